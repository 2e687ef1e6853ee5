"""The FastAPI app: the RAG chain published with LangServe, plus seed-compatible routes.

Thin on purpose. ``/rag`` is the chain (invoke, batch, stream, stream_log, stream_events, schemas,
playground); ``/retriever`` is its retrieval step alone; ``/conversation`` is the chat chain (chat
playground); all three are published by one factory (app.langserve.publish). ``/chat`` and
``/chat/stream`` keep the seed tutorial's contract over the same chain, with conversations
(``/sessions``); ``/health``, ``/ready`` and ``/metrics`` say what is loaded and how it runs; ``/``
is the web app (app.web). The
server's state is a typed :class:`~app.runtime.Runtime`; its lifespan opens the index, the model
and the history database once, and the server never writes the index.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from rag_chain import (
    RagResources,
    build_chain,
    build_chat_chain,
    build_retriever,
    resources_from_settings,
    with_readable_text,
)
from rag_core.settings import Settings, get_settings
from starlette.middleware import Middleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from app.documents import routes as documents
from app.errors.api import install_error_handlers
from app.errors.backends import install_backend_error_handlers
from app.langserve.body_guard import require_json
from app.langserve.stream_errors import StreamErrorMiddleware
from app.metrics import RequestMetricsMiddleware
from app.middleware.access import AccessMiddleware
from app.middleware.body_limit import BodyLimitMiddleware
from app.middleware.generation_scope import GenerationScopeMiddleware
from app.openai_api import routes as openai_routes
from app.openai_api.errors import OpenAIErrorMiddleware
from app.routes import chat, health, ready, sessions
from app.routes import metrics as metrics_route
from app.runtime import Runtime, build_runtime
from app.web.routes import install_web_app


def _middleware(runtime: Runtime) -> list[Middleware]:
    """Outermost first. A trusted proxy's X-Forwarded-For names the client; metrics see every
    response, 413/401/429 included; CORS answers preflights and decorates our 401/429; errors on /v1 are then rewritten in OpenAI's shape; a request's
    generations stop when it ends (client gone); access control is innermost, so route handlers
    see the user."""
    settings = runtime.settings
    stack: list[Middleware] = []
    if settings.trusted_proxies:
        # The client's address from X-Forwarded-For, only when the peer is a proxy we trust (the
        # rightmost untrusted entry: what the proxy itself saw). Rate limits per address need it:
        # behind a proxy every client otherwise shares the proxy's address.
        stack.append(Middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies))
    stack.append(Middleware(RequestMetricsMiddleware, metrics=runtime.metrics))
    if settings.cors_origins:
        stack.append(
            Middleware(
                CORSMiddleware,
                allow_origins=settings.cors_origins,
                allow_methods=["GET", "POST", "DELETE"],
                allow_headers=["Authorization", "Content-Type"],
            )
        )
    stack += [
        # Errors on /v1 in OpenAI's shape, whoever answered them (access, body limit, routes).
        Middleware(OpenAIErrorMiddleware),
        Middleware(StreamErrorMiddleware, timeout=settings.llm_timeout),
        Middleware(GenerationScopeMiddleware),
        Middleware(
            BodyLimitMiddleware,
            max_bytes=settings.max_body_bytes,
            upload_paths={"/documents": runtime.documents.limits.max_request_bytes},
        ),
        Middleware(AccessMiddleware, authenticator=runtime.authenticator, limiter=runtime.limiter),
    ]
    return stack


def create_app(
    settings: Settings | None = None,
    resources: RagResources | None = None,
    *,
    warm: bool = True,
) -> FastAPI:
    """Build the app; tests pass fake resources, production uses the settings' factories."""
    settings = settings or get_settings()
    resources = resources or resources_from_settings(settings)
    runtime = build_runtime(settings, resources)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with runtime.open(warm=warm):
            yield

    app = FastAPI(
        title="Private document chat",
        version="0.1.0",
        description="Answers only from your documents, with sources. See /docs and /rag/playground/.",
        lifespan=lifespan,
        middleware=_middleware(runtime),
    )
    app.state.runtime = runtime
    install_error_handlers(app)
    install_backend_error_handlers(app, settings.llm_timeout, (settings.llm, settings.embeddings))

    app.include_router(health.router)
    app.include_router(ready.router)
    app.include_router(chat.router, dependencies=[Depends(require_json)])
    app.include_router(sessions.router)
    app.include_router(documents.router)
    app.include_router(metrics_route.router)
    app.include_router(openai_routes.router, dependencies=[Depends(require_json)])

    def provider() -> RagResources:
        return resources

    publisher = runtime.publisher
    # `content` (the answer, then its sources) is what the /rag playground shows as one text
    publisher.add_routes(app, with_readable_text(build_chain(provider)), "/rag")
    publisher.add_routes(app, build_retriever(provider), "/retriever")
    publisher.add_routes(app, build_chat_chain(provider), "/conversation", chat=True)

    install_web_app(app)

    return app


def __getattr__(name: str) -> Any:
    # `uvicorn app.server:app` builds the app on first access, so importing this module is cheap
    # and tests can call create_app() with their own settings.
    if name == "app":
        built = create_app()
        globals()["app"] = built
        return built
    raise AttributeError(name)
