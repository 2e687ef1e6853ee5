"""The real server (rag-serve, real tiny model, real sample index) through its real clients.

LangServe's ``RemoteRunnable`` (invoke, batch, stream, astream_log, astream_events), the raw SSE of
``/rag/stream`` and ``/chat/stream`` read live off the socket (sources before the first answer
token), plain-text streaming with httpx and ``curl -N``, ``/retriever`` and the refusal path.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import Any

import httpx
import pytest
from langserve import RemoteRunnable
from rag_core.settings import REFUSAL

from tests.support.servers import LiveServer
from tests.support.sse import read_sse

pytestmark = pytest.mark.slow

PORT_Q = "Which port does Quillfeather listen on?"
PRICE_Q = "How much does the Team plan cost per user per month?"
OFF_DOMAIN_Q = "What is the capital of France?"
CITATION_KEYS = {"source", "page", "start_line", "end_line", "headings", "score", "snippet"}


def _check_answer(output: dict[str, Any]) -> None:
    assert isinstance(output["answer"], str) and output["answer"].strip()
    assert output["answer"] != REFUSAL
    assert output["sources"], "an in-domain question must cite sources"
    for source in output["sources"]:
        assert set(source) == CITATION_KEYS
        assert source["source"].endswith(".md")
        assert 0.0 <= source["score"] <= 1.0
        assert source["start_line"] is not None and source["end_line"] >= source["start_line"]


def test_remote_runnable_invoke_batch_stream(sample_server: LiveServer) -> None:
    rag = RemoteRunnable(f"{sample_server.url}/rag/", timeout=180)
    output = rag.invoke({"question": PORT_Q})
    _check_answer(output)
    assert "getting-started.md" in {s["source"] for s in output["sources"]}

    batch = rag.batch([{"question": PRICE_Q}, {"question": OFF_DOMAIN_Q}])
    assert len(batch) == 2
    _check_answer(batch[0])
    assert "pricing.md" in {s["source"] for s in batch[0]["sources"]}
    assert (batch[1]["answer"], batch[1]["sources"]) == (REFUSAL, [])

    chunks = list(rag.stream({"question": PORT_Q}))
    assert "sources" in chunks[0] and "answer" not in chunks[0]
    first_answer = next(i for i, c in enumerate(chunks) if c.get("answer"))
    assert all("sources" in c or "context" in c for c in chunks[:first_answer])
    assert len([c for c in chunks if c.get("answer")]) > 1, "the answer streams in pieces"
    assert "".join(c.get("answer", "") for c in chunks).strip()


async def test_remote_runnable_async_stream_log_and_events(sample_server: LiveServer) -> None:
    rag = RemoteRunnable(f"{sample_server.url}/rag/", timeout=180)
    try:
        pieces = [c async for c in rag.astream({"question": PORT_Q})]
        assert "sources" in pieces[0] and "answer" not in pieces[0]

        patches = [p async for p in rag.astream_log({"question": PORT_Q})]
        ops = [op for p in patches for op in p.ops]
        streamed = [op["value"] for op in ops if op["path"] == "/streamed_output/-"]
        assert "sources" in streamed[0]
        assert any("answer" in v for v in streamed[1:])
        final = next(op for op in reversed(ops) if op["path"] == "/final_output")
        assert final["value"]["sources"] == streamed[0]["sources"]

        events = [e async for e in rag.astream_events({"question": PORT_Q}, version="v2")]
        kinds = [e["event"] for e in events]
        assert kinds[0] == "on_chain_start" and kinds[-1] == "on_chain_end"
        assert "on_chat_model_stream" in kinds, "the model's tokens are visible as events"
        root_stream = [e["data"]["chunk"] for e in events if e["event"] == "on_chain_stream"]
        assert any("sources" in c for c in root_stream)
        end = events[-1]["data"]["output"]
        assert end["sources"] and end["answer"]
    finally:
        await rag.async_client.aclose()


def test_rag_stream_sse_sends_sources_before_the_first_token(sample_server: LiveServer) -> None:
    events = read_sse(f"{sample_server.url}/rag/stream", {"input": {"question": PORT_Q}})
    names = [name for name, _ in events]
    assert names[0] == "metadata" and names[-1] == "end"
    data = [payload for name, payload in events if name == "data"]
    assert "sources" in data[0] and "answer" not in data[0]
    assert data[0]["sources"]
    assert any(d.get("answer") for d in data[1:])


def test_chat_stream_sse_order(sample_server: LiveServer) -> None:
    events = read_sse(f"{sample_server.url}/chat/stream", {"question": PORT_Q})
    names = [name for name, _ in events]
    assert names[0] == "sources", names
    assert names[-1] == "done"
    assert "token" in names and "error" not in names
    assert set(names[1:-1]) == {"token"}
    sources = events[0][1]
    assert any(s["source"] == "getting-started.md" for s in sources)
    tokens = "".join(d for name, d in events if name == "token")
    assert tokens == events[-1][1]["answer"] and tokens.strip()


def test_chat_matches_seed_contract(sample_server: LiveServer) -> None:
    response = httpx.post(f"{sample_server.url}/chat", json={"question": PORT_Q}, timeout=180)
    assert response.status_code == 200
    body = response.json()
    _check_answer(body)
    assert "7420" in " ".join(s["snippet"] for s in body["sources"])


def test_plain_text_stream_with_httpx(sample_server: LiveServer) -> None:
    pieces: list[str] = []
    with httpx.stream(
        "POST",
        f"{sample_server.url}/chat/stream",
        json={"question": PORT_Q},
        headers={"Accept": "text/plain"},
        timeout=180,
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/plain")
        pieces = list(response.iter_text())
    text = "".join(pieces)
    assert text.strip() and "event:" not in text and '"sources"' not in text


def test_plain_text_stream_with_curl(sample_server: LiveServer) -> None:
    curl = shutil.which("curl")
    if curl is None:
        pytest.skip("curl is not installed")
    result = subprocess.run(
        [
            curl,
            "-sS",
            "-N",
            "--max-time",
            "180",
            f"{sample_server.url}/chat/stream",
            "-H",
            "Accept: text/plain",
            "-H",
            "Content-Type: application/json",
            "-d",
            f'{{"question": "{OFF_DOMAIN_Q}"}}',
        ],
        capture_output=True,
        text=True,
        timeout=200,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == REFUSAL


def test_retriever_returns_the_sources_the_chain_cites(sample_server: LiveServer) -> None:
    url = sample_server.url
    retrieved = httpx.post(
        f"{url}/retriever/invoke", json={"input": {"question": PRICE_Q}}, timeout=60
    )
    assert retrieved.status_code == 200, retrieved.text
    answered = httpx.post(f"{url}/chat", json={"question": PRICE_Q}, timeout=180).json()
    cited = retrieved.json()["output"]
    assert cited and cited == answered["sources"]


def test_refusal_over_http(sample_server: LiveServer) -> None:
    body = httpx.post(
        f"{sample_server.url}/chat", json={"question": OFF_DOMAIN_Q}, timeout=60
    ).json()
    assert body["answer"] == REFUSAL
    assert body["sources"] == []

    invoked = httpx.post(
        f"{sample_server.url}/rag/invoke", json={"input": {"question": OFF_DOMAIN_Q}}, timeout=60
    ).json()["output"]
    assert (invoked["answer"], invoked["sources"]) == (REFUSAL, [])

    events = read_sse(f"{sample_server.url}/chat/stream", {"question": OFF_DOMAIN_Q})
    assert events[:2] == [("sources", []), ("token", REFUSAL)] and len(events) == 3
    assert events[2][0] == "done" and events[2][1]["answer"] == REFUSAL
    assert events[2][1]["context"]["refused"] is True


def test_health_reports_the_index_and_models(sample_server: LiveServer) -> None:
    body = httpx.get(f"{sample_server.url}/health", timeout=10).json()
    assert body["status"] == "ok" and body["index"] == "ready"
    assert body["documents"] > 10
    assert body["llm"].startswith("llamacpp:") and body["llm"].endswith(".gguf")
    assert body["embeddings"] == "local:all-MiniLM-L6-v2"


def test_playground_and_schemas_are_served(sample_server: LiveServer) -> None:
    playground = httpx.get(f"{sample_server.url}/rag/playground/", timeout=10)
    assert playground.status_code == 200 and "<html" in playground.text.lower()
    schema = httpx.get(f"{sample_server.url}/rag/input_schema", timeout=10).json()
    assert schema["required"] == ["question"]
    output_schema = httpx.get(f"{sample_server.url}/rag/output_schema", timeout=10).json()
    assert {"answer", "sources"} <= set(output_schema["properties"])
