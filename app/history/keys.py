"""API keys: random, shown once at creation, stored only as a SHA-256 hash.

A key looks like ``rag_<id>_<secret>``: the short public id names it in ``rag-admin list-keys``
and ``revoke-key``; the 256-bit secret makes a plain (unsalted) hash safe to store, since such a key
cannot be guessed or brute-forced from its hash.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime

from rag_core.names import USER_RULE, valid_user
from sqlalchemy import insert, select, update

from app.history.db import Database, iso, utcnow

KEY_PREFIX = "rag_"


def hash_key(key: str) -> str:
    """The stored form of a key."""
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True)
class ApiKey:
    """A stored key (never the secret itself)."""

    id: str
    user: str
    created_at: datetime
    revoked_at: datetime | None

    def describe(self) -> dict[str, str | None]:
        """JSON-friendly view for listings."""
        return {
            "id": self.id,
            "user": self.user,
            "created_at": iso(self.created_at),
            "revoked_at": iso(self.revoked_at),
        }


class ApiKeyStore:
    """Create, look up, list and revoke keys in the history database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.t = db.tables.api_keys

    async def create(self, user: str) -> tuple[ApiKey, str]:
        """A new key for ``user``: the record and the secret key (to print once, never stored)."""
        if not valid_user(user):
            raise ValueError(f"user must be {USER_RULE}")
        await self.db.ready()
        key_id = secrets.token_hex(4)
        key = f"{KEY_PREFIX}{key_id}_{secrets.token_urlsafe(32)}"
        record = ApiKey(key_id, user, utcnow(), None)
        async with self.db.engine.begin() as conn:
            await conn.execute(
                insert(self.t).values(
                    id=key_id, owner=user, key_hash=hash_key(key), created_at=record.created_at
                )
            )
        return record, key

    async def lookup(self, key: str) -> ApiKey | None:
        """The active key matching ``key``, or None (unknown or revoked)."""
        if not key.startswith(KEY_PREFIX):
            return None
        await self.db.ready()
        query = select(self.t).where(
            self.t.c.key_hash == hash_key(key), self.t.c.revoked_at.is_(None)
        )
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else ApiKey(row.id, row.owner, row.created_at, row.revoked_at)

    async def list(self) -> list[ApiKey]:
        """All keys, oldest first, revoked ones included."""
        await self.db.ready()
        async with self.db.engine.connect() as conn:
            rows = (
                await conn.execute(select(self.t).order_by(self.t.c.created_at, self.t.c.id))
            ).all()
        return [ApiKey(r.id, r.owner, r.created_at, r.revoked_at) for r in rows]

    async def revoke(self, key_id: str) -> bool:
        """Revoke a key by id; False if there is no active key with that id."""
        await self.db.ready()
        query = (
            update(self.t)
            .where(self.t.c.id == key_id, self.t.c.revoked_at.is_(None))
            .values(revoked_at=utcnow())
        )
        async with self.db.engine.begin() as conn:
            result = await conn.execute(query)
        return bool(result.rowcount)
