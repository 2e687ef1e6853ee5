"""Access control in front of every route: authenticate, then rate-limit, then serve.

One ASGI middleware rather than per-route dependencies, so LangServe's routes, the playground's
static files, /docs and any route added later are covered without anyone remembering to. Only
``OPEN_PATHS`` (``/health``, the web app's page) and CORS preflights pass untouched. A stream counts once: the token
is taken when the request arrives, whatever it returns afterwards.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy.exc import SQLAlchemyError
from starlette.types import ASGIApp, Receive, Scope, Send

from app.errors.api import error_body
from app.security.auth import Authenticator, AuthError
from app.security.ratelimit import RateLimiter
from app.web.paths import CONFIG_PATH, PAGE_PATH, STATIC_PREFIX

log = logging.getLogger("rag.access")

#: Paths served without a key and without rate limiting (must not reveal anything private). The
#: web app's page, its static files and its config are public: a browser must load the page before
#: the user can type a key into it; every call the page makes is checked like any other.
OPEN_PATHS = frozenset({"/health", PAGE_PATH, CONFIG_PATH})
OPEN_PREFIXES = (f"{STATIC_PREFIX}/",)


def is_open_path(path: str) -> bool:
    """Whether ``path`` is served without a key."""
    return path in OPEN_PATHS or path.startswith(OPEN_PREFIXES)


class AccessMiddleware:
    """Sets ``request.state.user`` from the API key (401 without one), then applies rate limits (429)."""

    def __init__(
        self, app: ASGIApp, authenticator: Authenticator, limiter: RateLimiter | None
    ) -> None:
        self.app = app
        self.authenticator = authenticator
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") == "OPTIONS":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        authorization = headers.get(b"authorization", b"").decode("latin-1") or None
        if is_open_path(scope.get("path", "")):
            await self._identify_if_possible(scope, authorization)
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = f"ip:{client[0] if client else '-'}"
        try:
            identity = await self.authenticator.identify(authorization)
        except AuthError as exc:
            # Failed attempts spend the address's tokens: guessing keys is rate-limited too.
            if await self._limited(send, address):
                return
            await _reply(send, 401, str(exc), {"www-authenticate": "Bearer"})
            return
        except (SQLAlchemyError, OSError) as exc:
            log.error("API key lookup failed: %s", exc)
            await _reply(send, 503, "the key database is unavailable; try again shortly")
            return
        if identity is not None:
            scope.setdefault("state", {})["user"] = identity.user
        if await self._limited(send, f"key:{identity.key_id}" if identity else address):
            return
        await self.app(scope, receive, send)

    async def _identify_if_possible(self, scope: Scope, authorization: str | None) -> None:
        """On open paths a key is optional: a valid one identifies the caller, a bad one is ignored."""
        if authorization is None:
            return
        try:
            identity = await self.authenticator.identify(authorization)
        except (AuthError, SQLAlchemyError, OSError):
            return
        if identity is not None:
            scope.setdefault("state", {})["user"] = identity.user

    async def _limited(self, send: Send, bucket: str) -> bool:
        """Spend a token of ``bucket``; when there is none, answer 429 and say so."""
        if self.limiter is None:
            return False
        decision = await self.limiter.hit(bucket)
        if decision.allowed:
            return False
        retry = decision.retry_after_header
        await _reply(
            send,
            429,
            f"too many requests; retry in {retry} s (limits: RAG_RATE_LIMIT_PER_MINUTE per "
            "minute, RAG_RATE_LIMIT_BURST at once)",
            {"retry-after": retry},
            retry_after=int(retry),
        )
        return True


async def _reply(
    send: Send, status: int, message: str, headers: dict[str, str] | None = None, **extra: Any
) -> None:
    body = json.dumps(error_body(status, message, **extra)).encode()
    raw = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        *((k.encode(), v.encode()) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": body})
