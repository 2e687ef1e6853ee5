"""Every generation a request starts stops when that request ends, however it ends.

A client that hangs up mid-stream ends the request (sse-starlette notices the disconnect and
returns); whatever the model is still generating for it is then stopped here, without relying on
LangChain closing its nested stream generators promptly (see rag_chain.generation_scope). A request
that completed normally has no generation left, so this costs nothing then.
"""

from __future__ import annotations

from rag_chain import generation_scope
from starlette.types import ASGIApp, Receive, Scope, Send


class GenerationScopeMiddleware:
    """Opens a :func:`~rag_chain.generation_scope.generation_scope` around each HTTP request."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        with generation_scope():
            await self.app(scope, receive, send)
