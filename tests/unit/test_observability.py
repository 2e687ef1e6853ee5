"""/metrics, /ready and CORS on the in-process app over fakes."""

from __future__ import annotations

import re
from pathlib import Path

from tests.support.apps import app_client
from tests.support.fakes import fake_resources
from tests.support.llm_stub_server import StubLLMServer
from tests.support.servers import free_port

PORT_Q = {"question": "Which port does Quillfeather listen on?"}


def _value(text: str, name: str, labels: str = "") -> float:
    pattern = rf"^{re.escape(name)}{re.escape(labels)} (\S+)$"
    match = re.search(pattern, text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def test_metrics_count_requests_retrieval_tokens_and_refusals(tmp_path: Path) -> None:
    async with app_client(fake_resources(tmp_path / "data")) as (_, client):
        assert (await client.post("/chat", json=PORT_Q)).status_code == 200
        assert (await client.post("/rag/invoke", json={"input": PORT_Q})).status_code == 200
        refused = await client.post("/chat", json={"question": "zebra migration patterns"})
        assert refused.json()["sources"] == []
        assert (await client.post("/chat", json={"question": 1})).status_code == 422
        text = (await client.get("/metrics")).text
    chat_ok = '{method="POST",route="/chat",status="200"}'
    assert _value(text, "rag_http_requests_total", chat_ok) == 2
    assert (
        _value(text, "rag_http_requests_total", '{method="POST",route="/chat",status="422"}') == 1
    )
    invoke = '{method="POST",route="/rag/invoke",status="200"}'
    assert _value(text, "rag_http_requests_total", invoke) == 1
    assert _value(text, "rag_retrieval_seconds_count") == 3
    assert _value(text, "rag_refusals_total") == 1
    assert _value(text, "rag_llm_first_token_seconds_count") == 2
    assert _value(text, "rag_llm_tokens_streamed_total") > 2


async def test_ready_probes_index_and_backend(tmp_path: Path) -> None:
    async with app_client(fake_resources(tmp_path / "a")) as (_, client):
        ready = await client.get("/ready")
        assert ready.status_code == 200 and ready.json() == {
            "ready": True,
            "index": "ok",
            "llm": "ok",
        }
    async with app_client(fake_resources(tmp_path / "b", with_index=False)) as (_, client):
        missing = await client.get("/ready")
        assert missing.status_code == 503 and missing.json()["index"] == "missing"
    with StubLLMServer() as stub:
        res = fake_resources(tmp_path / "c", llm="ollama", ollama_base_url=stub.base_url)
        async with app_client(res) as (_, client):
            assert (await client.get("/ready")).json()["llm"] == "ok"
            assert any(path == "/api/tags" for path, _ in stub.requests)
    closed = f"http://127.0.0.1:{free_port()}"
    res = fake_resources(tmp_path / "d", llm="openai", openai_base_url=closed)
    async with app_client(res) as (_, client):
        down = await client.get("/ready")
        assert down.status_code == 503 and down.json()["llm"].startswith("error"), down.text


async def test_cors_is_off_by_default_and_configurable(tmp_path: Path) -> None:
    preflight = {
        "Origin": "https://app.example",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    async with app_client(fake_resources(tmp_path / "a")) as (_, client):
        response = await client.options("/chat", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
        simple = await client.post("/chat", json=PORT_Q, headers={"Origin": "https://app.example"})
        assert "access-control-allow-origin" not in simple.headers
    res = fake_resources(tmp_path / "b", cors_origins=["https://app.example"])
    async with app_client(res) as (_, client):
        allowed = await client.options("/chat", headers=preflight)
        assert allowed.headers["access-control-allow-origin"] == "https://app.example"
        other = await client.options(
            "/chat", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"
