"""Run tests/clients/js/remote_runnable.mjs (LangChain.js RemoteRunnable) against a live server."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from tests.support.node import run_node_script
from tests.support.servers import LiveServer
from tests.support.services import unavailable

JS_CLIENT_DIR = Path(__file__).resolve().parents[1] / "clients" / "js"


def require_js_client() -> None:
    """Skip with the reason when node or @langchain/core is missing (fail in CI)."""
    if shutil.which("node") is None:
        unavailable("node is missing")
    if not (JS_CLIENT_DIR / "node_modules" / "@langchain" / "core").is_dir():
        unavailable("@langchain/core is missing: run `make client-deps`")


def run_js_client(server: LiveServer, *questions: str, timeout: float) -> dict[str, Any]:
    """``node remote_runnable.mjs <url> <questions>``; its JSON report (one entry per verb)."""
    return run_node_script(
        JS_CLIENT_DIR / "remote_runnable.mjs", server, *questions, timeout=timeout
    )
