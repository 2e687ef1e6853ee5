"""Failing backends over real HTTP: refused connections, stalls and cuts on every route, broken indexes.

The chat routes' 503/504 are covered in test_llm_backends; here the LangServe routes (/rag/invoke,
/rag/stream, /rag/batch) must fail as clearly, /ready must say which backend is down, nothing may
take longer than RAG_LLM_TIMEOUT plus slack, and the server must keep serving afterwards.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.llm_stub_server import StubLLMServer
from tests.support.servers import LiveServer, free_port
from tests.support.sse import parse_sse

pytestmark = pytest.mark.slow

PORT_Q = {"question": "Which port does Quillfeather listen on?"}
REPLY = "Quillfeather listens on port 7420 by default."


@pytest.fixture
def stub() -> Iterator[StubLLMServer]:
    with StubLLMServer(reply=REPLY) as server:
        yield server


def _sse_until_closed(client: httpx.Client, path: str, body: dict[str, object]) -> list[str]:
    """Event names of an SSE response; LangServe cuts the connection right after ``error``."""
    text = ""
    with client.stream("POST", path, json=body) as response:
        assert response.status_code == 200, response.read()
        try:
            for piece in response.iter_text():
                text += piece
        except httpx.RemoteProtocolError:
            pass
    return [name for name, _ in parse_sse(text)]


#: The status each backend error code is sent with.
STATUS_OF = {"backend_unavailable": 503, "backend_timeout": 504}


def _assert_backend_error(response: httpx.Response, code: str) -> None:
    assert response.status_code == STATUS_OF[code], response.text
    body = response.json()
    assert body["error"] == code, body
    assert "Traceback" not in response.text and body["message"]


def test_refused_connection_is_503_on_every_route(
    sample_index: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    server = live_server(
        sample_index, RAG_LLM="ollama", RAG_OLLAMA_BASE_URL=closed, RAG_LLM_TIMEOUT="5"
    )
    with httpx.Client(base_url=server.url, timeout=30) as client:
        _assert_backend_error(client.post("/chat", json=PORT_Q), "backend_unavailable")
        _assert_backend_error(
            client.post("/rag/invoke", json={"input": PORT_Q}), "backend_unavailable"
        )
        _assert_backend_error(
            client.post("/rag/batch", json={"inputs": [PORT_Q, PORT_Q]}), "backend_unavailable"
        )
        names = _sse_until_closed(client, "/rag/stream", {"input": PORT_Q})
        assert names[-1] == "error", names
        chat_events = parse_sse(client.post("/chat/stream", json=PORT_Q).text)
        assert chat_events[-1][0] == "error" and "done" not in dict(chat_events)
        ready = client.get("/ready")
        assert ready.status_code == 503 and ready.json()["llm"].startswith("error"), ready.text
        assert ready.json()["index"] == "ok"
        assert client.get("/health").status_code == 200
    assert server.alive()


@pytest.mark.parametrize("behavior", ["stall", "cut", "error"])
def test_langserve_routes_fail_cleanly_and_the_server_recovers(
    behavior: str,
    stub: StubLLMServer,
    sample_index: dict[str, str],
    live_server: Callable[..., LiveServer],
) -> None:
    server = live_server(
        sample_index, RAG_LLM="ollama", RAG_OLLAMA_BASE_URL=stub.base_url, RAG_LLM_TIMEOUT="2"
    )
    stub.behavior = behavior
    with httpx.Client(base_url=server.url, timeout=30) as client:
        expected = "backend_timeout" if behavior == "stall" else "backend_unavailable"
        _assert_backend_error(client.post("/rag/invoke", json={"input": PORT_Q}), expected)
        names = _sse_until_closed(client, "/rag/stream", {"input": PORT_Q})
        assert names[-1] == "error" and "end" not in names, names
        assert client.get("/ready").status_code == 200  # metadata endpoints still answer

        stub.behavior = "ok"
        answer = client.post("/rag/invoke", json={"input": PORT_Q})
        assert answer.status_code == 200 and answer.json()["output"]["answer"] == REPLY
    assert server.alive()


def test_missing_and_corrupt_index_give_clear_messages(
    rag_env: dict[str, str],
    sample_index: dict[str, str],
    live_server: Callable[..., LiveServer],
    tmp_path: Path,
) -> None:
    missing = live_server(rag_env, RAG_LLM_MAX_TOKENS="16")
    health = httpx.get(f"{missing.url}/health").json()
    assert health["index"] == "missing" and "rag-ingest" in health["hint"]
    ready = httpx.get(f"{missing.url}/ready")
    assert ready.status_code == 503 and ready.json()["index"] == "missing"

    corrupt_dir = tmp_path / "corrupt"
    shutil.copytree(sample_index["RAG_DATA_DIR"], corrupt_dir)
    databases = list((corrupt_dir / "chroma").glob("*.sqlite3"))
    assert databases, "the sample index has a Chroma SQLite file to corrupt"
    for sqlite in databases:
        sqlite.write_bytes(b"this is not a database" * 100)
    corrupt = live_server(
        {**sample_index, "RAG_DATA_DIR": str(corrupt_dir)}, RAG_LLM_MAX_TOKENS="16"
    )
    with httpx.Client(base_url=corrupt.url, timeout=60) as client:
        health = client.get("/health")
        assert health.status_code == 200 and health.json()["status"] == "degraded", health.text
        for response in (
            client.post("/chat", json=PORT_Q),
            client.post("/rag/invoke", json={"input": PORT_Q}),
        ):
            assert response.status_code == 503, response.text
            assert "Traceback" not in response.text
            assert response.json()["error"] == "index_unavailable", response.text
            assert "index" in response.json()["message"], response.text
        assert client.get("/ready").status_code == 503
    assert corrupt.alive()
