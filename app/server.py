"""The FastAPI app: the RAG chain published with LangServe, plus seed-compatible routes.

Thin on purpose. ``/rag`` is the chain (invoke, batch, stream, stream_log, stream_events, schemas,
playground); ``/retriever`` is its retrieval step alone; ``/chat`` and ``/chat/stream`` keep the
seed tutorial's contract; ``/health`` says what is loaded; ``/conversation`` is the chat chain
(chat playground) and ``/sessions`` the stored conversations (app.history.conversations wires history, API
keys and rate limits). The index and the model are opened once, in the lifespan, and the server
never writes the index.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import RedirectResponse
from langserve import add_routes
from rag_chain import ModelWorkerError, RagResources, resources_from_settings
from rag_chain.conversation import build_chat_chain
from rag_core.settings import Settings, get_settings

from app import metrics
from app.errors.api import install_error_handlers
from app.errors.backends import index_error, install_backend_error_handlers, is_index_failure
from app.history import conversations
from app.langserve.body_guard import langserve_body_guard, require_json
from app.langserve.config_guard import checked_client_config, declare_top_k
from app.langserve.stream_errors import StreamErrorMiddleware, recorder_for
from app.middleware import access
from app.middleware.body_limit import BodyLimitMiddleware
from app.routes import chat, health, ready
from app.runtime import Runtime

log = logging.getLogger("rag.server")

#: Extensions (conversations, auth, rate limits, metrics) register here: fn(app, runtime) -> None.
Extension = Callable[[FastAPI, Runtime], None]
EXTENSIONS: list[Extension] = [conversations.install, access.install, metrics.install]


def create_app(
    settings: Settings | None = None,
    resources: RagResources | None = None,
    *,
    warm: bool = True,
) -> FastAPI:
    """Build the app; tests pass fake resources, production uses the settings' factories."""
    settings = settings or get_settings()
    runtime = Runtime(settings, resources or resources_from_settings(settings))

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            if warm:
                # Opening the index and loading the model are blocking work: off the event loop.
                await asyncio.to_thread(runtime.resources.warm)
            count = await asyncio.to_thread(runtime.resources.reader.count)
            log.info(
                "ready: collection %r %s",
                settings.collection,
                f"with {count} chunks" if count is not None else "missing (run rag-ingest)",
            )
        except ModelWorkerError as exc:
            # A model that cannot load must not keep the server down: /retriever and /health
            # work, /ready says why and what to do, answers get a clear 503.
            log.error("the language model is unavailable: %s", exc.with_fix())
        except Exception as exc:
            if not is_index_failure(exc):
                raise
            # A damaged index must not keep the server down: /health and /ready say so.
            log.error("%s", index_error(exc).message)
        for startup in runtime.extensions.get("startup", []):
            await startup()
        try:
            yield
        finally:
            for shutdown in runtime.extensions.get("shutdown", []):
                await shutdown()
            await asyncio.to_thread(runtime.resources.close)

    app = FastAPI(
        title="Private document chat",
        version="0.1.0",
        description="Answers only from your documents, with sources. See /docs and /rag/playground/.",
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    install_backend_error_handlers(app, settings.llm_timeout, (settings.llm, settings.embeddings))
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(StreamErrorMiddleware, timeout=settings.llm_timeout)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )

    async def config_modifier(config: dict[str, Any], request: Request) -> dict[str, Any]:
        checked = checked_client_config(config, settings)
        server_config = dict(runtime.request_config(request, checked))  # type: ignore[arg-type]
        recorder = recorder_for(request)
        if recorder is not None:  # a stream route: let its error event say what failed
            # (LangServe drops a client's callbacks; the chain's own are bound with with_config)
            server_config["callbacks"] = [recorder]
        return server_config

    app.include_router(health.router)
    app.include_router(ready.router)
    app.include_router(chat.router, dependencies=[Depends(require_json)])
    runtime.chain = declare_top_k(runtime.chain, settings)
    runtime.retriever = declare_top_k(runtime.retriever, settings)
    for extension in EXTENSIONS:
        extension(app, runtime)
    dependencies = [
        Depends(langserve_body_guard(settings)),
        *runtime.extensions.get("dependencies", []),
    ]
    add_routes(
        app,
        runtime.chain,
        path="/rag",
        per_req_config_modifier=config_modifier,
        dependencies=dependencies,
    )
    add_routes(
        app,
        runtime.retriever,
        path="/retriever",
        per_req_config_modifier=config_modifier,
        dependencies=dependencies,
    )

    add_routes(
        app,
        build_chat_chain(lambda: runtime.resources),
        path="/conversation",
        playground_type="chat",
        per_req_config_modifier=config_modifier,
        dependencies=[Depends(langserve_body_guard(settings, chat=True)), *dependencies[1:]],
    )

    @app.get("/", include_in_schema=False)
    async def index() -> RedirectResponse:
        return RedirectResponse("/rag/playground/")

    return app


def __getattr__(name: str) -> Any:
    # `uvicorn app.server:app` builds the app on first access, so importing this module is cheap
    # and tests can call create_app() with their own settings.
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
