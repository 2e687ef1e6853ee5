"""Real ``rag-serve`` processes: a conversation with API keys survives a restart, on the default
SQLite file and on PostgreSQL; keys are made with the real ``rag-admin``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from rag_core.settings import REFUSAL

from tests.support.admin import bearer, run_admin
from tests.support.llm_stub_server import StubLLMServer
from tests.support.servers import LiveServer
from tests.support.services import drop_tables, require_postgres, unique_prefix

pytestmark = pytest.mark.slow


@pytest.fixture
def stub() -> Iterator[StubLLMServer]:
    with StubLLMServer(reply="What is the capital of Atlantis?") as server:
        yield server


def _conversation_survives_restart(
    env: dict[str, str], live_server: Callable[..., LiveServer], stub: StubLLMServer
) -> None:
    alice, bob = bearer(env, "alice"), bearer(env, "bob")
    server = live_server(env)
    for question in ("Who rules Atlantis?", "and what is its capital?"):
        response = httpx.post(
            f"{server.url}/chat",
            json={"question": question, "session_id": "atlantis"},
            headers=alice,
            timeout=60,
        )
        assert response.status_code == 200, response.text
        assert response.json()["answer"] == REFUSAL  # nothing indexed: grounded refusal
    condensed = [body for path, body in stub.requests if path == "/api/chat"]
    assert len(condensed) == 1, "the follow-up (and only it) was condensed by the model"
    assert "Who rules Atlantis?" in str(condensed[0])
    assert httpx.get(f"{server.url}/sessions/atlantis", timeout=10).status_code == 401
    server.stop()

    again = live_server(env)
    session = httpx.get(f"{again.url}/sessions/atlantis", headers=alice, timeout=10).json()
    assert [m["content"] for m in session["messages"] if m["role"] == "user"] == [
        "Who rules Atlantis?",
        "and what is its capital?",
    ]
    assert session["messages"][2]["standalone_question"] == "What is the capital of Atlantis?"
    assert httpx.get(f"{again.url}/sessions/atlantis", headers=bob, timeout=10).status_code == 404


def _env(rag_env: dict[str, str], stub: StubLLMServer, **extra: str) -> dict[str, str]:
    return {
        **rag_env,
        "RAG_AUTH": "apikey",
        "RAG_LLM": "ollama",
        "RAG_EMBEDDINGS": "ollama",
        "RAG_OLLAMA_BASE_URL": stub.base_url,
        **extra,
    }


def test_restart_keeps_history_on_sqlite(
    rag_env: dict[str, str], live_server: Callable[..., LiveServer], stub: StubLLMServer
) -> None:
    env = _env(rag_env, stub)
    _conversation_survives_restart(env, live_server, stub)
    assert (Path(env["RAG_DATA_DIR"]) / "history.sqlite").exists()


def test_restart_keeps_history_on_postgres(
    rag_env: dict[str, str], live_server: Callable[..., LiveServer], stub: StubLLMServer
) -> None:
    url, prefix = require_postgres(), unique_prefix()
    # The plain form every PostgreSQL tool documents (it used to need "+asyncpg" spelled out).
    plain = url.replace("postgresql+asyncpg://", "postgresql://")
    env = _env(rag_env, stub, RAG_DATABASE_URL=plain, RAG_TABLE_PREFIX=prefix)
    try:
        _conversation_survives_restart(env, live_server, stub)
        assert not (Path(env["RAG_DATA_DIR"]) / "history.sqlite").exists()
    finally:
        asyncio.run(drop_tables(url, prefix))


def test_an_unusable_database_url_is_one_line_from_rag_admin(rag_env: dict[str, str]) -> None:
    env = {**rag_env, "RAG_DATABASE_URL": "mysql://root@127.0.0.1/rag"}
    result = run_admin(env, "create-key", "--user", "alice")
    assert result.returncode != 0
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().count("\n") == 0, result.stderr
    assert "RAG_DATABASE_URL" in result.stderr
