"""Shared fixtures: isolated settings, a real sample index built once, and live servers.

Unit tests use fakes (``fake_resources``); integration tests use ``sample_index`` (the bundled
samples ingested once per session with the real MiniLM into a temp dir) and ``live_server`` (the
real ``rag-serve`` process on a free loopback port, with the real tiny model).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.servers import LiveServer, clean_env, free_port, start_server

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
BIN = Path(sys.executable).parent

# Rate limiting is on by default; tests fire requests far faster than a person, so every app and
# server they start gets a huge burst unless a test sets its own (tests of the limiter do).
os.environ.setdefault("RAG_RATE_LIMIT_BURST", "1000000")


@pytest.fixture(autouse=True)
def _reset_sse_starlette() -> Iterator[None]:
    """sse-starlette 1.x binds a global exit event to the first event loop; reset it per test."""
    from sse_starlette.sse import AppStatus

    AppStatus.should_exit_event = None
    yield
    AppStatus.should_exit_event = None


@pytest.fixture
def rag_env(tmp_path: Path) -> dict[str, str]:
    """Environment for a subprocess with its own data dir and nothing inherited from a .env."""
    return clean_env(RAG_DATA_DIR=str(tmp_path / "data"))


def run_ingest(
    *args: str, env: dict[str, str], timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """Run the real rag-ingest CLI."""
    return subprocess.run(
        [str(BIN / "rag-ingest"), "--no-progress", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture(scope="session")
def sample_index(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The bundled samples ingested once with the real embeddings; returns the env to use it."""
    data = tmp_path_factory.mktemp("sample-index") / "data"
    env = clean_env(RAG_DATA_DIR=str(data))
    result = run_ingest(str(SAMPLES), "--json", env=env)
    assert result.returncode == 0, result.stderr
    # Servers over this index exercise the chat-model path (streaming, disconnects, crashes of the
    # worker); the embedded default, extract, has its own tests (test_answer_modes.py).
    env["RAG_ANSWER_MODE"] = "generate"
    return env


@pytest.fixture
def live_server(tmp_path: Path) -> Iterator[Callable[..., LiveServer]]:
    """Factory starting real `rag-serve` processes; all are stopped at the end of the test."""
    started: list[LiveServer] = []

    def start(env: dict[str, str], **extra_env: str) -> LiveServer:
        server = start_server(
            {**env, **extra_env}, log_path=tmp_path / f"server-{len(started)}.log"
        )
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="module")
def sample_server(
    tmp_path_factory: pytest.TempPathFactory, sample_index: dict[str, str]
) -> Iterator[LiveServer]:
    """One real server over the sample index, shared by a module's read-only tests."""
    log = tmp_path_factory.mktemp("server") / "server.log"
    server = start_server(dict(sample_index), log_path=log)
    yield server
    server.stop()


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0, step: float = 0.05) -> bool:
    """Poll ``predicate`` until it is true or ``timeout`` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(step)
    return predicate()


__all__ = ["LiveServer", "free_port", "httpx", "run_ingest", "wait_until"]


@pytest.fixture(scope="session")
def pgvector_server() -> Iterator[Any]:
    """A PostgreSQL with pgvector for the session (see tests.support.services.PgvectorServer)."""
    from tests.support.services import PgvectorServer

    server = PgvectorServer()
    yield server
    server.stop()


@pytest.fixture
def pgvector_url(pgvector_server: Any) -> str:
    """A fresh database with pgvector for one test: ``postgresql://`` URL."""
    return pgvector_server.new_database()  # type: ignore[no-any-return]
