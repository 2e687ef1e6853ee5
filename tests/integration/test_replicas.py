"""Two real ``rag-serve`` replicas sharing what a team deployment shares (issue 15).

Both replicas talk to one PostgreSQL (history, API keys, upload jobs), one Redis (rate limits) and
one vector store; each has a data dir of its own, as two machines would. The model is the loopback
Ollama stub for both, so answers are instant and a stream can be made as slow as a test needs.

The vector store is a parameter (:func:`shared_vectors`): a Chroma server, or pgvector, where one
PostgreSQL database holds history, keys, upload jobs, ingest records and the vectors; every test
here runs against both.
"""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from httpx_sse import connect_sse
from rag_core.settings import REFUSAL

from tests.conftest import run_ingest, wait_until
from tests.support.admin import admin, bearer
from tests.support.chroma import ChromaServer
from tests.support.llm_stub_server import StubLLMServer
from tests.support.servers import LiveServer, free_port
from tests.support.services import drop_tables, require_postgres, require_redis, unique_prefix

pytestmark = pytest.mark.slow

#: What the shared document says, and a question the refusal rule lets through to the model.
ATLANTIS = "The capital of Atlantis is Poseidonia, a harbour city built on three rings of water.\n"
QUESTION = "What is the capital of Atlantis?"
#: A long, slow answer: a stream that is still running when its replica is killed.
SLOW_REPLY = " ".join(f"word{i}" for i in range(60))


@pytest.fixture(scope="module")
def chroma(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ChromaServer]:
    """One Chroma server for the module; each test gets its own collection in it."""
    root = tmp_path_factory.mktemp("chroma")
    server = ChromaServer(root / "data", free_port(), root / "chroma.log")
    server.start()
    yield server
    server.stop()


@pytest.fixture(params=["chroma-server", "pgvector"])
def shared_vectors(request: pytest.FixtureRequest) -> dict[str, str]:
    """The environment that points replicas and rag-ingest at one shared vector store.

    With pgvector, ``RAG_DATABASE_URL`` is the same database: the one-engine team layout.
    """
    collection = unique_prefix("c").rstrip("_")
    if request.param == "chroma-server":
        chroma: ChromaServer = request.getfixturevalue("chroma")
        return {"RAG_CHROMA_URL": chroma.url, "RAG_COLLECTION": collection}
    if request.param == "pgvector":
        url: str = request.getfixturevalue("pgvector_url")
        return {
            "RAG_VECTORSTORE": "pgvector",
            "RAG_PGVECTOR_URL": url,
            "RAG_DATABASE_URL": url,
            "RAG_COLLECTION": collection,
        }
    raise AssertionError(f"unknown vector store {request.param!r}")


@pytest.fixture
def stub() -> Iterator[StubLLMServer]:
    with StubLLMServer(reply="What is the capital of Atlantis?") as server:
        yield server


@pytest.fixture
def team_env(
    rag_env: dict[str, str], stub: StubLLMServer, shared_vectors: dict[str, str]
) -> Iterator[dict[str, str]]:
    """Settings every replica, rag-admin and rag-ingest share: a fresh table and key prefix."""
    database, redis_url, prefix = require_postgres(), require_redis(), unique_prefix()
    env = {
        **rag_env,
        "RAG_AUTH": "apikey",
        "RAG_LLM": "ollama",
        "RAG_EMBEDDINGS": "ollama",
        "RAG_OLLAMA_BASE_URL": stub.base_url,
        "RAG_DATABASE_URL": database,
        "RAG_TABLE_PREFIX": prefix,
        "RAG_REDIS_URL": redis_url,
        "RAG_REDIS_PREFIX": prefix,
        **shared_vectors,
    }
    yield env
    asyncio.run(drop_tables(database, prefix))
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


@dataclass
class Replicas:
    """Replica A and replica B, each with its own data dir, sharing everything in ``env``."""

    a: LiveServer
    b: LiveServer

    @property
    def both(self) -> tuple[LiveServer, LiveServer]:
        return self.a, self.b


@pytest.fixture
def start_replicas(
    team_env: dict[str, str], live_server: Callable[..., LiveServer], tmp_path: Path
) -> Callable[..., Replicas]:
    """Start A and B (``extra`` settings on both); the live_server fixture stops them."""

    def start(**extra: str) -> Replicas:
        a, b = (
            live_server(team_env, RAG_DATA_DIR=str(tmp_path / f"replica-{name}"), **extra)
            for name in "ab"
        )
        return Replicas(a, b)

    return start


def chat(server: LiveServer, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{server.url}/chat", json=body, headers=headers, timeout=60)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def sessions_statuses(calls: list[tuple[LiveServer, dict[str, str]]]) -> list[int]:
    """The status of ``GET /sessions`` for each (server, headers), in order: a rate limit's trace."""
    return [
        httpx.get(f"{server.url}/sessions", headers=headers, timeout=10).status_code
        for server, headers in calls
    ]


def ingest_shared_document(env: dict[str, str], folder: Path) -> None:
    """rag-ingest from a third place (its own data dir) into the shared store."""
    folder.mkdir()
    (folder / "atlantis.md").write_text(f"# Atlantis\n\n{ATLANTIS}")
    result = run_ingest(str(folder), "--json", env=env, timeout=120)
    assert result.returncode == 0, result.stderr


def test_a_conversation_started_on_one_replica_continues_on_the_other(
    team_env: dict[str, str], start_replicas: Callable[..., Replicas], stub: StubLLMServer
) -> None:
    alice, bob = bearer(team_env, "alice"), bearer(team_env, "bob")
    replicas = start_replicas()
    first = chat(replicas.a, alice, question="Who rules Atlantis?", session_id="atlantis")
    assert first["answer"] == REFUSAL  # nothing indexed: grounded refusal, no model call
    assert [path for path, _ in stub.requests if path == "/api/chat"] == []

    follow_up = chat(replicas.b, alice, question="and what is its capital?", session_id="atlantis")
    assert follow_up["answer"] == REFUSAL
    condensed = [body for path, body in stub.requests if path == "/api/chat"]
    assert len(condensed) == 1, "B condensed the follow-up with the first turn, asked on A"
    assert "Who rules Atlantis?" in str(condensed[0])

    for server in replicas.both:
        session = httpx.get(f"{server.url}/sessions/atlantis", headers=alice, timeout=10)
        assert [m["content"] for m in session.json()["messages"] if m["role"] == "user"] == [
            "Who rules Atlantis?",
            "and what is its capital?",
        ]
        assert session.json()["messages"][2]["standalone_question"] == QUESTION
        mine = httpx.get(f"{server.url}/sessions/atlantis", headers=bob, timeout=10)
        assert mine.status_code == 404, "another user's session stays private on every replica"


def test_a_key_revoked_with_rag_admin_stops_working_on_both(
    team_env: dict[str, str], start_replicas: Callable[..., Replicas]
) -> None:
    alice, bob = bearer(team_env, "alice"), bearer(team_env, "bob")
    replicas = start_replicas()
    for server in replicas.both:
        assert httpx.get(f"{server.url}/sessions", headers=alice, timeout=10).status_code == 200

    key_id = alice["Authorization"].removeprefix("Bearer rag_").split("_")[0]
    admin(team_env, "revoke-key", key_id)

    for server in replicas.both:
        refused = httpx.get(f"{server.url}/sessions", headers=alice, timeout=10)
        assert refused.status_code == 401, refused.text
        assert refused.json()["error"] == "unauthorized"
        kept = httpx.get(f"{server.url}/sessions", headers=bob, timeout=10)
        assert kept.status_code == 200, "only the revoked key stops working"


def test_the_rate_limit_is_shared_by_both_replicas(
    team_env: dict[str, str], start_replicas: Callable[..., Replicas]
) -> None:
    alice, bob = bearer(team_env, "alice"), bearer(team_env, "bob")
    # 4 requests per key, coming back at 1 a minute: nothing refills during the test.
    replicas = start_replicas(RAG_RATE_LIMIT_BURST="4", RAG_RATE_LIMIT_PER_MINUTE="1")
    alternating = [(server, alice) for server in replicas.both * 3]  # A B A B A B
    assert sessions_statuses(alternating) == [200, 200, 200, 200, 429, 429]
    assert sessions_statuses([(server, bob) for server in replicas.both]) == [200, 200], (
        "the budget is per key"
    )
    over = httpx.get(f"{replicas.a.url}/sessions", headers=alice, timeout=10)
    assert over.status_code == 429, over.text
    assert over.json()["error"] == "rate_limited"
    assert int(over.headers["retry-after"]) >= 1


def _found(server: LiveServer, headers: dict[str, str], source: str) -> bool:
    answer = chat(server, headers, question=QUESTION)
    return source in {s["source"] for s in answer["sources"]}


def _listed(server: LiveServer, headers: dict[str, str]) -> set[tuple[str, str]]:
    response = httpx.get(f"{server.url}/documents", headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    return {(d["source"], d["owner"]) for d in response.json()["documents"]}


def test_documents_ingested_while_both_serve_are_found_by_both(
    team_env: dict[str, str], start_replicas: Callable[..., Replicas], tmp_path: Path
) -> None:
    alice, bob = bearer(team_env, "alice"), bearer(team_env, "bob")
    replicas = start_replicas()
    for server in replicas.both:
        assert not _found(server, alice, "atlantis.md")

    ingest_shared_document(team_env, tmp_path / "docs")
    for server in replicas.both:
        assert wait_until(lambda s=server: _found(s, alice, "atlantis.md"), timeout=30)
        assert ("atlantis.md", "_shared") in _listed(server, bob)

    # An upload to A is ingested by A's child process; B answers the poll (jobs live in the
    # shared database) and retrieves it (the chunks live in the shared store), for alice only.
    notes = b"# Notes\n\nThe capital of Atlantis hides a library of bronze tablets.\n"
    upload = httpx.post(
        f"{replicas.a.url}/documents",
        files=[("files", ("alice-notes.md", notes, "text/markdown"))],
        headers=alice,
        timeout=60,
    )
    assert upload.status_code == 202, upload.text
    job_url = f"{replicas.b.url}/documents/jobs/{upload.json()['job_id']}"

    def job_finished() -> bool:
        job = httpx.get(job_url, headers=alice, timeout=10)
        assert job.status_code == 200, job.text
        return job.json()["status"] in ("done", "failed")

    assert wait_until(job_finished, timeout=180, step=0.5), replicas.a.log()[-3000:]
    assert httpx.get(job_url, headers=alice, timeout=10).json()["status"] == "done"
    assert ("alice-notes.md", "alice") in _listed(replicas.b, alice)
    assert ("alice-notes.md", "alice") not in _listed(replicas.b, bob)
    assert wait_until(lambda: _found(replicas.b, alice, "alice-notes.md"), timeout=30)


def test_killing_one_replica_mid_stream_leaves_the_other_serving(
    team_env: dict[str, str],
    start_replicas: Callable[..., Replicas],
    stub: StubLLMServer,
    tmp_path: Path,
) -> None:
    alice = bearer(team_env, "alice")
    ingest_shared_document(team_env, tmp_path / "docs")
    replicas = start_replicas()
    stub.reply, stub.token_delay = SLOW_REPLY, 0.3  # 60 tokens: ~18 s of answer

    events: list[str] = []
    started = time.monotonic()
    with (
        httpx.Client(timeout=30) as client,
        connect_sse(
            client,
            "POST",
            f"{replicas.a.url}/chat/stream",
            json={"question": QUESTION},
            headers=alice,
        ) as source,
    ):
        assert source.response.status_code == 200
        with pytest.raises(httpx.RemoteProtocolError, match="incomplete chunked read"):
            for sse in source.iter_sse():
                events.append(sse.event)
                if sse.event == "token" and events.count("token") == 1:
                    os.kill(replicas.a.process.pid, signal.SIGKILL)
    assert time.monotonic() - started < 15, "the client saw the end at once, not a hang"
    assert events[0] == "sources" and events.count("token") >= 1
    assert "done" not in events, "a cut answer is never reported as complete"
    assert replicas.a.process.wait(timeout=10) == -signal.SIGKILL

    stub.reply, stub.token_delay = "Poseidonia.", 0.0
    assert httpx.get(f"{replicas.b.url}/health", timeout=10).status_code == 200
    answer = chat(replicas.b, alice, question=QUESTION)
    assert answer["answer"].strip() == "Poseidonia."
    assert "atlantis.md" in {s["source"] for s in answer["sources"]}


def test_x_forwarded_for_names_the_client_only_from_a_trusted_proxy(
    rag_env: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    """Anonymous callers are limited per address; behind a proxy that address is the proxy's."""
    env = {
        **rag_env,
        "RAG_RATE_LIMIT_BURST": "2",
        "RAG_RATE_LIMIT_PER_MINUTE": "1",
        "RAG_LLM": "ollama",  # nothing here needs a model: no GGUF, no MiniLM
        "RAG_EMBEDDINGS": "ollama",
        "RAG_OLLAMA_BASE_URL": "http://127.0.0.1:9",
    }
    clients = ["203.0.113.7", "203.0.113.7", "203.0.113.7", "198.51.100.4", "198.51.100.4"]
    forwarded = [{"X-Forwarded-For": client} for client in clients]
    behind_proxy = live_server(env, RAG_TRUSTED_PROXIES="127.0.0.1")
    calls = [(behind_proxy, headers) for headers in forwarded]
    assert sessions_statuses(calls) == [200, 200, 429, 200, 200]

    direct = live_server(env)
    calls = [(direct, headers) for headers in forwarded]
    assert sessions_statuses(calls) == [200, 200, 429, 429, 429], "the header is ignored"
