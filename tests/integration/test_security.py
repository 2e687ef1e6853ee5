"""Security basics on a live server: secrets stay out of logs, loopback bind by default."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
from rag_core.settings import Settings

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
            RAG_LLM_TIMEOUT="2",
        )
        question = {"question": "Which port does Quillfeather listen on?"}
        with httpx.Client(base_url=server.url, timeout=30) as client:
            assert client.post("/chat", json=question).status_code == 200
            for behavior in ("error", "stall", "cut"):
                stub.behavior = behavior
                assert client.post("/chat", json=question).status_code in (503, 504)
                assert client.post("/rag/invoke", json={"input": question}).status_code in (
                    503,
                    504,
                )
            stub.behavior = "ok"
            assert client.get("/ready").status_code == 200
            for body in (client.get("/health").text, client.get("/metrics").text):
                assert SECRET not in body
        sent = [h for h in stub.requests if h[0] == "/v1/chat/completions"]
        assert sent, "the key must still be used towards the backend"
    server.stop()
    assert SECRET not in server.log()


def test_the_server_binds_loopback_by_default() -> None:
    assert Settings.model_fields["host"].default == "127.0.0.1"
