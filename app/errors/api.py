"""One error shape for every route we own: ``{"error": <code>, "message": <what to do>}``.

Clients get a stable machine-readable code and a sentence for humans; tracebacks stay in the logs.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger("rag.server")

_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    500: "internal_error",
    503: "backend_unavailable",
    504: "backend_timeout",
}


class ApiError(Exception):
    """An error with an HTTP status and a message meant for the client."""

    def __init__(self, status: int, message: str, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status = status
        self.code = code or _CODES.get(status, "error")
        self.message = message
        self.extra = extra


def error_body(status: int, message: str, code: str | None = None, **extra: Any) -> dict[str, Any]:
    """The JSON body of every error response."""
    return {"error": code or _CODES.get(status, "error"), "message": message, **extra}


def error_response(
    status: int,
    message: str,
    code: str | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    """A JSONResponse in the common error shape."""
    return JSONResponse(
        error_body(status, message, code, **extra), status_code=status, headers=headers
    )


def _describe_validation(errors: list[dict[str, Any]]) -> str:
    parts = []
    for item in errors[:5]:
        loc = ".".join(str(p) for p in item.get("loc", ()) if p not in ("body",))
        parts.append(f"{loc or 'body'}: {item.get('msg')}")
    return "; ".join(parts) or "invalid request"


def _error_item(error: Any) -> dict[str, Any]:
    # LangServe raises RequestValidationError with plain strings ("Invalid JSON body").
    if not isinstance(error, dict):
        return {"loc": [], "msg": str(error), "type": "invalid"}
    return {k: v for k, v in error.items() if k in ("loc", "msg", "type")}


def install_error_handlers(app: FastAPI) -> None:
    """Route every error through the common shape (validation, HTTP, and unexpected ones)."""

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.message, exc.code, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [_error_item(e) for e in exc.errors()]
        return error_response(422, _describe_validation(errors), details=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else "request failed"
        return error_response(exc.status_code, detail, headers=getattr(exc, "headers", None))

    app.add_exception_handler(Exception, unexpected_error)


async def unexpected_error(request: Request, exc: Exception) -> JSONResponse:
    """A 500 for a bug: the traceback goes to the log, never to the client."""
    log.exception("unhandled error on %s %s", request.method, request.url.path)
    return error_response(500, "internal error; the server log has the details")
