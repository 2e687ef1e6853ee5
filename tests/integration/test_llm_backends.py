"""The Ollama and OpenAI-compatible backends over real HTTP, against the loopback stub LLM server.

The real server (real index, real langchain-ollama / langchain-openai clients) talks to
``StubLLMServer``; we check what reaches the client (the stub's streamed tokens, sources first) and
what reaches the backend (model, temperature 0, the retrieved context and the seed rules).
Ollama embeddings are exercised end to end too: ingest and query both embed through ``/api/embed``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from rag_core.settings import REFUSAL

from tests.conftest import SAMPLES, run_ingest
from tests.support.llm_stub_server import StubLLMServer
from tests.support.servers import LiveServer
from tests.support.sse import read_sse

pytestmark = pytest.mark.slow

PORT_Q = "Which port does Quillfeather listen on?"
REPLY = "Quillfeather listens on port 7420 by default."
SEED_RULE = "Answer ONLY using the provided context."


@pytest.fixture
def stub() -> Iterator[StubLLMServer]:
    with StubLLMServer(reply=REPLY) as server:
        yield server


def _backend_env(backend: str, stub: StubLLMServer) -> dict[str, str]:
    if backend == "ollama":
        return {"RAG_LLM": "ollama", "RAG_OLLAMA_BASE_URL": stub.base_url}
    return {
        "RAG_LLM": "openai",
        "RAG_OPENAI_BASE_URL": stub.openai_base_url,
        "RAG_OPENAI_API_KEY": "sk-test-not-a-real-key",
    }


def _chat_requests(stub: StubLLMServer) -> list[dict[str, Any]]:
    return [body for path, body in stub.requests if path in ("/api/chat", "/v1/chat/completions")]


def _system_and_user(body: dict[str, Any]) -> tuple[str, str]:
    messages = body["messages"]
    system = [m["content"] for m in messages if m["role"] == "system"]
    user = [m["content"] for m in messages if m["role"] == "user"]
    assert len(system) == 1 and len(user) == 1, messages
    return system[0], user[0]


@pytest.mark.parametrize("backend", ["ollama", "openai"])
def test_chat_and_stream_through_the_backend(
    backend: str,
    stub: StubLLMServer,
    sample_index: dict[str, str],
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(sample_index, **_backend_env(backend, stub))
    expected_model = "llama3.1:8b" if backend == "ollama" else "gpt-4o-mini"
    assert httpx.get(f"{server.url}/health", timeout=10).json()["llm"] == (
        f"{backend}:{expected_model}"
    )

    body = httpx.post(f"{server.url}/chat", json={"question": PORT_Q}, timeout=60).json()
    assert body["answer"] == REPLY
    assert "getting-started.md" in {s["source"] for s in body["sources"]}

    requests = _chat_requests(stub)
    assert len(requests) == 1
    sent = requests[0]
    assert sent["model"] == expected_model
    temperature = sent["options"]["temperature"] if backend == "ollama" else sent["temperature"]
    assert temperature == 0
    system, user = _system_and_user(sent)
    assert user == PORT_Q
    assert SEED_RULE in system and REFUSAL in system
    assert "port = 7420" in system, "the retrieved context reaches the model"
    assert "getting-started.md" in system, "chunks are labelled with their source"

    stub.reset()
    events = read_sse(f"{server.url}/chat/stream", {"question": PORT_Q})
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "done"
    tokens = [data for name, data in events if name == "token"]
    assert tokens == re.findall(r"\s*\S+", REPLY), "each backend token is forwarded as it comes"
    done = events[-1][1]
    assert done["answer"] == REPLY
    assert done["context"]["answer_mode"] == "generate" and not done["context"].get("refused")
    assert _chat_requests(stub)[0]["stream"] is True


@pytest.mark.parametrize("backend", ["ollama", "openai"])
def test_refusal_does_not_reach_the_backend(
    backend: str,
    stub: StubLLMServer,
    sample_index: dict[str, str],
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(sample_index, **_backend_env(backend, stub))
    body = httpx.post(
        f"{server.url}/chat", json={"question": "What is the capital of France?"}, timeout=60
    ).json()
    assert (body["answer"], body["sources"]) == (REFUSAL, [])
    assert _chat_requests(stub) == []


def test_ollama_embeddings_for_ingest_and_query(
    stub: StubLLMServer, rag_env: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    env = {
        **rag_env,
        "RAG_EMBEDDINGS": "ollama",
        "RAG_OLLAMA_BASE_URL": stub.base_url,
        "RAG_LLM": "ollama",
        "RAG_SCORE_THRESHOLD": "0.0",
    }
    result = run_ingest(str(SAMPLES), "--json", env=env)
    assert result.returncode == 0, result.stderr
    ingest_embeds = [body for path, body in stub.requests if path == "/api/embed"]
    assert ingest_embeds, "ingest must embed through Ollama"
    assert {body["model"] for body in ingest_embeds} == {"nomic-embed-text"}
    embedded = [text for body in ingest_embeds for text in body["input"]]
    assert any("7420" in text for text in embedded)

    stub.reset()
    server = live_server(env)
    health = httpx.get(f"{server.url}/health", timeout=10).json()
    assert health["embeddings"] == "ollama:nomic-embed-text"
    assert health["index"] == "ready" and health["documents"] == len(embedded)

    body = httpx.post(f"{server.url}/chat", json={"question": PORT_Q}, timeout=60).json()
    assert body["answer"] == REPLY and body["sources"]
    query_embeds = [body for path, body in stub.requests if path == "/api/embed"]
    assert [q["input"] for q in query_embeds] in ([PORT_Q], [[PORT_Q]])


@pytest.mark.parametrize("backend", ["ollama", "openai"])
def test_backend_failures_reach_the_client_as_errors(
    backend: str,
    stub: StubLLMServer,
    sample_index: dict[str, str],
    live_server: Callable[..., LiveServer],
) -> None:
    """A failing backend is a 503, a stalled one a 504 within RAG_LLM_TIMEOUT; streams end with
    an ``error`` event after the sources, and the server keeps answering afterwards."""
    server = live_server(sample_index, RAG_LLM_TIMEOUT="3", **_backend_env(backend, stub))

    stub.behavior = "error"
    failed = httpx.post(f"{server.url}/chat", json={"question": PORT_Q}, timeout=60)
    assert failed.status_code == 503, failed.text
    assert failed.json()["error"] == "backend_unavailable"

    stub.behavior = "stall"
    stalled = httpx.post(f"{server.url}/chat", json={"question": PORT_Q}, timeout=60)
    assert stalled.status_code == 504, stalled.text
    assert stalled.json()["error"] == "backend_timeout"

    events = read_sse(f"{server.url}/chat/stream", {"question": PORT_Q}, timeout=60)
    names = [name for name, _ in events]
    assert names[0] == "sources" and names[-1] == "error", names
    assert "done" not in names
    assert events[-1][1]["error"] == "backend_timeout"

    stub.behavior = "cut"
    cut = read_sse(f"{server.url}/chat/stream", {"question": PORT_Q}, timeout=60)
    assert [name for name, _ in cut][-1] == "error"

    stub.behavior = "ok"
    assert (
        httpx.post(f"{server.url}/chat", json={"question": PORT_Q}, timeout=60).json()["answer"]
        == REPLY
    )
