"""Who is calling: ``Authorization: Bearer <key>`` checked against the stored key hashes.

With ``RAG_AUTH=off`` (the default) nobody is identified: everyone shares the anonymous history and
sees only the shared documents. With ``RAG_AUTH=apikey`` every request except the open paths needs a
valid, unrevoked key; its user becomes ``request.state.user``, which the chain's owner filter and the
history use. The check itself runs in :mod:`app.middleware.access`, before any route, so no route can forget it.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request
from rag_core.names import ANONYMOUS_OWNER
from rag_core.settings import Settings

from app.history.keys import ApiKeyStore

#: Owner of conversations and uploaded documents when auth is off (not a valid user name, so no
#: key can ever map to it).
ANONYMOUS = ANONYMOUS_OWNER


def user_of(request: Request) -> str | None:
    """The authenticated user the access middleware set (None when auth is off).

    Server-set only: this is the tenant the chain filters documents by, never a client's claim.
    """
    user = getattr(request.state, "user", None)
    return user if isinstance(user, str) else None


def owner_of(request: Request) -> str:
    """Whose conversations and uploads these are: the authenticated user, or the anonymous owner."""
    return user_of(request) or ANONYMOUS


class AuthError(Exception):
    """The request carries no valid key; the message tells the client what to send."""


@dataclass(frozen=True)
class Identity:
    """An authenticated caller."""

    user: str
    key_id: str


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or None."""
    if not authorization:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and token else None


class Authenticator:
    """Maps an Authorization header to an :class:`Identity` when API keys are on."""

    def __init__(self, settings: Settings, keys: ApiKeyStore) -> None:
        self.enabled = settings.auth == "apikey"
        self.keys = keys

    async def identify(self, authorization: str | None) -> Identity | None:
        """The caller's identity; None when auth is off; AuthError when a key is needed but bad."""
        if not self.enabled:
            return None
        token = bearer_token(authorization)
        if token is None:
            raise AuthError(
                "this server needs an API key: send 'Authorization: Bearer <key>' "
                "(an admin creates one with `rag-admin create-key --user NAME`)"
            )
        key = await self.keys.lookup(token)
        if key is None:
            raise AuthError("unknown or revoked API key")
        return Identity(user=key.user, key_id=key.id)
