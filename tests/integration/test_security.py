"""Security basics on a live server: secrets stay out of logs (loopback bind: tests/unit/test_settings.py)."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from tests.support.llm_stub_server import StubLLMServer
from tests.support.servers import LiveServer

pytestmark = pytest.mark.slow

SECRET = "sk-live-SECRET-4f1d9c0be2a7"


def test_api_key_never_reaches_the_logs(
    sample_index: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    with StubLLMServer(reply="Port 7420.") as stub:
        server = live_server(
            sample_index,
            RAG_LLM="openai",
            RAG_OPENAI_BASE_URL=stub.openai_base_url,
            RAG_OPENAI_API_KEY=SECRET,
            # Long enough for the OpenAI client's one retry after a 500 (with its back-off), so a
            # failing backend is always a 503 and only a stalled one runs into the timeout (504).
            RAG_LLM_TIMEOUT="6",
        )
        question = {"question": "Which port does Quillfeather listen on?"}
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.post("/chat", json=question).status_code == 200
            for behavior, status in (("error", 503), ("stall", 504), ("cut", 503)):
                stub.behavior = behavior
                assert client.post("/chat", json=question).status_code == status, behavior
                invoked = client.post("/rag/invoke", json={"input": question})
                assert invoked.status_code == status, behavior
            stub.behavior = "ok"
            assert client.get("/ready").status_code == 200
            for body in (client.get("/health").text, client.get("/metrics").text):
                assert SECRET not in body
        sent = [h for h in stub.requests if h[0] == "/v1/chat/completions"]
        assert sent, "the key must still be used towards the backend"
    server.stop()
    assert SECRET not in server.log()
