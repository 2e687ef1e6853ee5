"""The app's routes in-process (httpx ASGITransport) over fake resources: /chat, /chat/stream, /health, /rag."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from rag_core.settings import REFUSAL

from tests.support.apps import app_client
from tests.support.fakes import (
    ExplodingChatModel,
    SlowFakeChatModel,
    fake_chat_model,
    fake_resources,
)
from tests.support.sse import parse_sse

PRICING_Q = "How much does the Team plan cost?"
OFF_DOMAIN_Q = "Quels sont les meilleurs fromages?"
REPLY = "Twelve euros per user per month."


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(fake_resources(tmp_path / "data", fake_chat_model(REPLY))) as (_, c):
        yield c


async def test_chat_answers_with_sources(client: httpx.AsyncClient) -> None:
    response = await client.post("/chat", json={"question": PRICING_Q})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["answer"] == REPLY
    assert [s["source"] for s in body["sources"]] == ["pricing.md"]
    assert body["context"]["chunks_used"] == 1


async def test_chat_stream_events_are_sources_tokens_done(client: httpx.AsyncClient) -> None:
    response = await client.post("/chat/stream", json={"question": PRICING_Q})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = parse_sse(response.text)
    names = [name for name, _ in events]

    assert names[0] == "sources"
    assert names[-1] == "done"
    assert set(names[1:-1]) == {"token"} and len(names) > 3
    assert [s["source"] for s in events[0][1]] == ["pricing.md"]
    tokens = "".join(data for name, data in events if name == "token")
    assert tokens == REPLY == events[-1][1]["answer"]


async def test_chat_stream_plain_text_is_only_the_answer(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/chat/stream", json={"question": PRICING_Q}, headers={"Accept": "text/plain"}
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    assert response.text == REPLY


async def test_rag_invoke_and_retriever_agree(client: httpx.AsyncClient) -> None:
    invoked = await client.post("/rag/invoke", json={"input": {"question": PRICING_Q}})
    assert invoked.status_code == 200, invoked.text
    output = invoked.json()["output"]
    retrieved = await client.post("/retriever/invoke", json={"input": {"question": PRICING_Q}})
    assert retrieved.status_code == 200, retrieved.text
    assert output["answer"] == REPLY
    assert retrieved.json()["output"] == output["sources"]


async def test_rag_rejects_bad_input_with_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/rag/invoke", json={"input": {"query": PRICING_Q}})
    assert response.status_code == 422


async def test_chat_rejects_blank_and_unknown_fields(client: httpx.AsyncClient) -> None:
    blank = await client.post("/chat", json={"question": "   "})
    unknown = await client.post("/chat", json={"question": PRICING_Q, "topk": 3})
    assert (blank.status_code, unknown.status_code) == (422, 422)
    assert blank.json()["error"] == "invalid_request"


async def test_refusal_over_http_never_calls_the_model(tmp_path: Path) -> None:
    model = ExplodingChatModel()
    async with app_client(fake_resources(tmp_path / "data", model)) as (_, client):
        body = (await client.post("/chat", json={"question": OFF_DOMAIN_Q})).json()
        assert (body["answer"], body["sources"]) == (REFUSAL, [])
        events = parse_sse(
            (await client.post("/chat/stream", json={"question": OFF_DOMAIN_Q})).text
        )
        assert events[0] == ("sources", [])
        assert events[-1][0] == "done" and events[-1][1]["answer"] == REFUSAL
        assert events[-1][1]["context"]["refused"] is True
    assert model.calls == 0


async def test_health_with_index(client: httpx.AsyncClient) -> None:
    body = (await client.get("/health")).json()
    assert body["status"] == "ok"
    assert body["index"] == "ready"
    assert body["documents"] == 4
    assert body["llm"].startswith("llamacpp:")
    assert body["embeddings"] == "local:all-MiniLM-L6-v2"


async def test_health_without_index_says_so_and_chat_refuses(tmp_path: Path) -> None:
    model = ExplodingChatModel()
    async with app_client(fake_resources(tmp_path / "data", model, with_index=False)) as (
        _,
        client,
    ):
        health = await client.get("/health")
        assert health.status_code == 200
        body = health.json()
        assert (body["status"], body["index"], body["documents"]) == ("degraded", "missing", 0)
        assert "rag-ingest" in body["hint"]
        answer = (await client.post("/chat", json={"question": PRICING_Q})).json()
        assert answer["answer"] == REFUSAL
    assert model.calls == 0


async def test_health_names_the_configured_backends(tmp_path: Path) -> None:
    res = fake_resources(
        tmp_path / "data",
        fake_chat_model(REPLY),
        llm="ollama",
        embeddings="ollama",
        ollama_base_url="http://127.0.0.1:9",
    )
    async with app_client(res) as (_, client):
        body = (await client.get("/health")).json()
        assert body["llm"] == "ollama:llama3.1:8b"
        assert body["embeddings"] == "ollama:nomic-embed-text"


async def test_a_slow_but_steady_stream_is_not_cut(tmp_path: Path) -> None:
    """RAG_LLM_TIMEOUT bounds a stall between tokens, not the length of a healthy answer."""
    model = SlowFakeChatModel(reply=REPLY, delay=0.3)  # 6 words: ~1.8 s in all
    res = fake_resources(tmp_path / "data", model, llm_timeout=1.0)
    async with app_client(res) as (_, client):
        events = parse_sse((await client.post("/chat/stream", json={"question": PRICING_Q})).text)
        assert [name for name, _ in events][-1] == "done", events
        assert events[-1][1]["answer"] == REPLY
        plain = await client.post(
            "/chat/stream", json={"question": PRICING_Q}, headers={"Accept": "text/plain"}
        )
        assert plain.text == REPLY


async def test_a_stalled_stream_ends_with_an_error_event(tmp_path: Path) -> None:
    model = SlowFakeChatModel(reply=REPLY, delay=3.0)
    res = fake_resources(tmp_path / "data", model, llm_timeout=0.5)
    async with app_client(res) as (_, client):
        events = parse_sse((await client.post("/chat/stream", json={"question": PRICING_Q})).text)
        assert [name for name, _ in events] == ["sources", "error"]
        assert events[-1][1]["error"] == "backend_timeout"
