"""OpenAI's error dialect for everything under ``/v1``, translated in one place.

OpenAI clients read ``{"error": {"message", "type", "param", "code"}}`` and raise their typed
exceptions from the status (``AuthenticationError`` for 401, ``RateLimitError`` for 429,
``NotFoundError`` for 404 …). The rest of the server answers ``{"error": <code>, "message": ...}``
from many places: the access middleware (401, 429), the body limit (413), the JSON guard (415),
validation (422), the routes and the backend error mapping (503, 504). Rather than teach each of
them a second shape, :class:`OpenAIErrorMiddleware` rewrites those JSON error responses on ``/v1``
paths into OpenAI's shape, and reports invalid requests as 400 as OpenAI does. Errors that happen
after a stream has started are written in this shape by the stream itself (:func:`openai_error`).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from app.errors.api import ApiError

#: The path prefix that speaks OpenAI's dialect.
OPENAI_PREFIX = "/v1"

#: Our codes that have an OpenAI name clients know.
_OPENAI_CODES = {"unauthorized": "invalid_api_key", "rate_limited": "rate_limit_exceeded"}


def bad_request(message: str, param: str | None, code: str = "invalid_request") -> ApiError:
    """A 400 about one request field (``param``), as OpenAI reports invalid requests."""
    return ApiError(400, message, code=code, param=param)


def _error_type(status: int) -> str:
    if status == 401:
        return "authentication_error"
    if status == 403:
        return "permission_error"
    if status == 429:
        return "rate_limit_error"
    return "server_error" if status >= 500 else "invalid_request_error"


def openai_error(
    status: int, message: str, code: str | None, param: str | None = None
) -> dict[str, Any]:
    """The OpenAI-style body for an error of ``status``."""
    return {
        "error": {
            "message": message,
            "type": _error_type(status),
            "param": param,
            "code": _OPENAI_CODES.get(code or "", code),
        }
    }


def openai_error_of(error: ApiError) -> dict[str, Any]:
    """An :class:`ApiError` (e.g. from the backend error mapping) in OpenAI's shape."""
    param = error.extra.get("param")
    return openai_error(
        error.status, error.message, error.code, param if isinstance(param, str) else None
    )


def _param_of(body: dict[str, Any]) -> str | None:
    """Which request field an error is about: our ``param``, or the first validation error's place."""
    if isinstance(body.get("param"), str):
        return str(body["param"])
    details = body.get("details")
    if isinstance(details, list) and details and isinstance(details[0], dict):
        if details[0].get("type") == "json_invalid":
            return None  # its place is a character offset, not a field
        loc = [str(p) for p in details[0].get("loc") or () if p != "body"]
        return ".".join(loc) or None
    return None


def translate(status: int, raw: bytes) -> tuple[int, bytes]:
    """Our error body as OpenAI's (422 becomes 400); anything else is returned unchanged."""
    try:
        body = json.loads(raw)
    except ValueError:
        return status, raw
    if not isinstance(body, dict) or not isinstance(body.get("error"), str):
        return status, raw  # not our shape (already OpenAI's, or not an error body)
    message = str(body.get("message") or body["error"])
    status = 400 if status == 422 else status
    return status, json.dumps(
        openai_error(status, message, body["error"], _param_of(body))
    ).encode()


def is_openai_path(path: str) -> bool:
    """Whether ``path`` belongs to the OpenAI-compatible API."""
    return path == OPENAI_PREFIX or path.startswith(OPENAI_PREFIX + "/")


class OpenAIErrorMiddleware:
    """Rewrites JSON error responses on ``/v1`` paths into OpenAI's error shape.

    Only responses with status >= 400 and a JSON body are held back (they are small and complete);
    successful responses and streams pass through untouched.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_openai_path(str(scope.get("path", ""))):
            await self.app(scope, receive, send)
            return
        start: Message | None = None
        chunks: list[bytes] = []

        async def translating_send(message: Message) -> None:
            nonlocal start
            if message["type"] == "http.response.start":
                if message["status"] >= 400 and _is_json(message):
                    start = message
                    return
            elif message["type"] == "http.response.body" and start is not None:
                chunks.append(message.get("body", b""))
                if message.get("more_body", False):
                    return
                status, body = translate(start["status"], b"".join(chunks))
                headers = [
                    (k, v) for k, v in start.get("headers", []) if k.lower() != b"content-length"
                ]
                headers.append((b"content-length", str(len(body)).encode()))
                await send({**start, "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": body})
                return
            await send(message)

        await self.app(scope, receive, translating_send)


def _is_json(start: Message) -> bool:
    for key, value in start.get("headers", []):
        if key.lower() == b"content-type":
            return bytes(value).split(b";")[0].strip().lower() == b"application/json"
    return False
