"""One async SQLAlchemy engine per server, and a schema that creates itself safely.

The schema is created on first use with ``create_all`` (idempotent). Concurrent starts are safe:
on PostgreSQL the creation runs under a transaction-scoped advisory lock, so a second process waits
and then finds the tables; on SQLite a lost race ("already exists") is retried, and WAL mode plus a
busy timeout let several processes share the file.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from app.history.models import Tables, make_tables

log = logging.getLogger("rag.history")

SCHEMA_ATTEMPTS = 3


def utcnow() -> datetime:
    """Naive UTC timestamps: stored the same way on SQLite and PostgreSQL."""
    return datetime.now(UTC).replace(tzinfo=None)


def iso(value: datetime | None) -> str | None:
    """A stored (naive UTC) timestamp as ISO 8601 with a Z."""
    return None if value is None else value.isoformat(timespec="seconds") + "Z"


def _sqlite_pragmas(dbapi_connection: Any, _: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.close()


class Database:
    """The engine and tables of the history/keys store; the schema is ensured once, lazily."""

    def __init__(self, url: str, prefix: str = "rag_") -> None:
        self.url = make_url(url)
        self.tables: Tables = make_tables(prefix)
        self._lock_key = int.from_bytes(hashlib.sha256(prefix.encode()).digest()[:7], "big")
        if self.is_sqlite and self.url.database:
            Path(self.url.database).parent.mkdir(parents=True, exist_ok=True)
        self.engine: AsyncEngine = create_async_engine(self.url, pool_pre_ping=True)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self._ready = False
        self._ready_lock = asyncio.Lock()

    @property
    def is_sqlite(self) -> bool:
        """Whether this is the default SQLite file (vs. a server database)."""
        return self.url.get_backend_name() == "sqlite"

    def describe(self) -> str:
        """The URL without its password, for logs and errors."""
        return self.url.render_as_string(hide_password=True)

    async def ready(self) -> None:
        """Create the tables if needed (once per process; retried after a failure)."""
        if self._ready:
            return
        async with self._ready_lock:
            if self._ready:
                return
            for attempt in range(1, SCHEMA_ATTEMPTS + 1):
                try:
                    await self._create_schema()
                    break
                except DBAPIError as exc:
                    if attempt == SCHEMA_ATTEMPTS:
                        raise
                    log.info("schema creation raced (%s); retrying", type(exc.orig).__name__)
                    await asyncio.sleep(0.2 * attempt)
            self._ready = True

    async def _create_schema(self) -> None:
        async with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                await conn.execute(
                    text("SELECT pg_advisory_xact_lock(:key)"), {"key": self._lock_key}
                )
            await conn.run_sync(self.tables.metadata.create_all)

    async def close(self) -> None:
        """Release the connection pool."""
        await self.engine.dispose()
