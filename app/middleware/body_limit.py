"""Request-size limits enforced before a body is read into memory.

One limit for every request (``RAG_MAX_BODY_BYTES``, JSON questions), and a larger one for the
upload paths only (``POST /documents``: ``RAG_UPLOAD_MAX_FILES`` files of at most
``RAG_UPLOAD_MAX_FILE_BYTES``), both here so no request escapes a bound.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors.api import error_body


class BodyLimitMiddleware:
    """Reject bodies above ``max_bytes`` with 413, by Content-Length or while streaming in."""

    def __init__(
        self, app: ASGIApp, max_bytes: int, upload_paths: dict[str, int] | None = None
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.upload_paths = dict(upload_paths or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if path in self.upload_paths:
            limit, setting = (
                self.upload_paths[path],
                "RAG_UPLOAD_MAX_FILES x RAG_UPLOAD_MAX_FILE_BYTES",
            )
        else:
            limit, setting = self.max_bytes, "RAG_MAX_BODY_BYTES"
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > limit):
            await self._reject(send, limit, setting)
            return
        received = 0
        too_large = False

        async def limited_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    too_large = True
                    raise _TooLarge
            return message

        try:
            await self.app(scope, limited_receive, send)
        except _TooLarge:
            await self._reject(send, limit, setting)

    async def _reject(self, send: Send, limit: int, setting: str) -> None:
        import json

        body = json.dumps(
            error_body(413, f"request body exceeds {limit} bytes ({setting})")
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
