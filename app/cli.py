"""``rag-serve``: run the server with uvicorn (127.0.0.1:8000 by default)."""

from __future__ import annotations

import argparse
import logging
import sys

from rag_core.settings import SettingsError, load_settings


def main(argv: list[str] | None = None) -> int:
    """Parse flags, validate settings, then serve until interrupted."""
    parser = argparse.ArgumentParser(
        prog="rag-serve",
        description="Serve the document chat API: /rag (LangServe + playground), /retriever, "
        "/chat, /chat/stream, /health. Settings come from RAG_* variables or .env.",
    )
    parser.add_argument("--host", help="bind address (default RAG_HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default RAG_PORT or 8000)")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    args = parser.parse_args(argv)
    overrides: dict[str, object] = {}
    if args.host:
        overrides["host"] = args.host
    if args.port:
        overrides["port"] = args.port
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        print(f"rag-serve: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    import uvicorn

    from app.server import create_app

    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=args.log_level,
        # Forwarded headers are trusted only from RAG_TRUSTED_PROXIES (app.server), not from
        # uvicorn's default of 127.0.0.1, where any local process could claim any address.
        proxy_headers=False,
        timeout_graceful_shutdown=5,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
