"""Say what failed in LangServe's streamed ``error`` events, in our error shape.

LangServe's ``/stream``, ``/stream_log`` and ``/stream_events`` answer any failure after the
response has started with one fixed event, ``{"status_code": 500, "message": "Internal Server
Error"}`` (so a secret in an exception text never leaks). When the embedded model's worker crashed
or cannot load, that hides the one thing a client can act on: the model is restarting, ask again.
So each LangServe request gets a :class:`ModelErrorRecorder` callback (through the per-request
config), and this middleware rewrites that fixed event to ``{"status_code": 503, "error":
"model_crashed" | "model_unavailable", "message": ...}`` when the recorder saw such a failure.
``RemoteRunnable`` raises ``httpx.HTTPStatusError`` with that status and message. Every other
failure keeps LangServe's event unchanged.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from fastapi import Request
from langchain_core.callbacks import BaseCallbackHandler
from rag_chain import ModelWorkerError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors.backends import backend_error

_STATE_KEY = "rag_model_errors"
_GENERIC = b'{"status_code": 500, "message": "Internal Server Error"}'
_STREAM_SUFFIXES = ("/stream", "/stream_log", "/stream_events")


class ModelErrorRecorder(BaseCallbackHandler):
    """Remembers the first model-worker failure seen by one request's runs."""

    run_inline = True

    def __init__(self) -> None:
        self.error: ModelWorkerError | None = None

    def _record(self, error: BaseException) -> None:
        if self.error is None and isinstance(error, ModelWorkerError):
            self.error = error

    def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A chat-model call failed."""
        self._record(error)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        """A step failed (also covers failures before the model, e.g. token counting)."""
        self._record(error)


def recorder_for(request: Request) -> ModelErrorRecorder | None:
    """The recorder the middleware put on this request (None outside LangServe stream routes)."""
    recorder = request.scope.get("state", {}).get(_STATE_KEY)
    return recorder if isinstance(recorder, ModelErrorRecorder) else None


class StreamErrorMiddleware:
    """Rewrites LangServe's generic streamed error when the model worker was the cause."""

    def __init__(self, app: ASGIApp, timeout: float) -> None:
        self.app = app
        self.timeout = timeout

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not str(scope.get("path", "")).endswith(_STREAM_SUFFIXES):
            await self.app(scope, receive, send)
            return
        recorder = ModelErrorRecorder()
        scope.setdefault("state", {})[_STATE_KEY] = recorder

        async def rewriting_send(message: Message) -> None:
            if message["type"] == "http.response.body" and recorder.error is not None:
                body: bytes = message.get("body", b"")
                if b"event: error" in body and _GENERIC in body:
                    error = backend_error(recorder.error, self.timeout)
                    ours = json.dumps(
                        {"status_code": error.status, "error": error.code, "message": error.message}
                    ).encode()
                    message = {**message, "body": body.replace(_GENERIC, ours)}
            await send(message)

        await self.app(scope, receive, rewriting_send)
