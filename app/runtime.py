"""What the server holds for its lifetime: settings, the chain's resources, and per-request hooks.

The chain is built once against these resources; each request only adds server-side config
(``rag_user``, from authentication, never from the client) through :meth:`Runtime.request_config`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from langchain_core.runnables import Runnable, RunnableConfig
from rag_chain import RagResources, build_chain, build_retriever
from rag_chain.chain import USER_KEY
from rag_core.settings import Settings

log = logging.getLogger("rag.server")


@dataclass
class Runtime:
    """Long-lived server state, created by :func:`app.server.create_app`."""

    settings: Settings
    resources: RagResources
    chain: Runnable = field(init=False)
    retriever: Runnable = field(init=False)
    extensions: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.chain = build_chain(lambda: self.resources)
        self.retriever = build_retriever(lambda: self.resources)

    @staticmethod
    def user_of(request: Request) -> str | None:
        """The authenticated user set by the auth dependency (None when auth is off)."""
        return getattr(request.state, "user", None)

    def request_config(
        self, request: Request, base: RunnableConfig | None = None
    ) -> RunnableConfig:
        """Server-side config for one request: the caller's identity and a clamped ``k``."""
        config: dict[str, Any] = dict(base or {})
        configurable = dict(config.get("configurable") or {})
        configurable.pop(USER_KEY, None)
        user = self.user_of(request)
        if user:
            configurable[USER_KEY] = user
        config["configurable"] = configurable
        return config  # type: ignore[return-value]

    async def prepare(
        self, request: Request, question: str, session_id: str | None
    ) -> tuple[Runnable, Any, RunnableConfig]:
        """Pick the runnable and input for a /chat request (conversations plug in here)."""
        hook = self.extensions.get("prepare")
        if hook is not None:
            return await hook(self, request, question, session_id)  # type: ignore[no-any-return]
        return self.chain, {"question": question}, self.request_config(request)

    async def finish(
        self, request: Request, session_id: str | None, question: str, result: dict[str, Any]
    ) -> None:
        """Called once an answer is complete (conversations store it here)."""
        hook = self.extensions.get("finish")
        if hook is not None:
            await hook(self, request, session_id, question, result)


def get_runtime(request: Request) -> Runtime:
    """The app's Runtime (a FastAPI dependency-style accessor)."""
    return request.app.state.runtime  # type: ignore[no-any-return]
