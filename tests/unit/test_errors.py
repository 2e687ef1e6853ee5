"""Bad input gets a clear 4xx in one error shape, on our routes and LangServe's, and the app survives."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.apps import app_client
from tests.support.fakes import fake_resources

QUESTION = {"question": "Which port does Quillfeather listen on?"}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    res = fake_resources(tmp_path / "data", max_question_chars=200, max_batch_size=3)
    async with app_client(res) as (_, client):
        yield client


def _assert_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["error"], str) and body["error"]
    assert isinstance(body["message"], str) and body["message"]
    assert "Traceback" not in response.text
    return body  # type: ignore[no-any-return]


JSON_CASES: list[tuple[str, Any, int]] = [
    ("/chat", {}, 422),
    ("/chat", {"question": ""}, 422),
    ("/chat", {"question": "   "}, 422),
    ("/chat", {"question": 123}, 422),
    ("/chat", {"question": None}, 422),
    ("/chat", {"question": ["a"]}, 422),
    ("/chat", {"question": "x" * 201}, 413),
    ("/chat", {"question": "ok", "extra": 1}, 422),
    ("/chat", [QUESTION], 422),
    ("/chat/stream", {"question": 5}, 422),
    ("/chat/stream", {"question": "x" * 201}, 413),
    ("/rag/invoke", {"input": {"question": 123}}, 422),
    ("/rag/invoke", {"input": {}}, 422),
    ("/rag/invoke", {"input": {"question": "x" * 201}}, 413),
    ("/rag/invoke", {"input": QUESTION, "surprise": True}, 422),
    ("/rag/invoke", {"input": {**QUESTION, "rag_user": "bob"}}, 422),
    ("/rag/invoke", {}, 422),
    ("/rag/invoke", [1, 2], 422),
    ("/rag/invoke", "just a string", 422),
    ("/rag/stream", {"input": {"question": 1.5}}, 422),
    ("/rag/stream", {"input": {"question": "x" * 201}}, 413),
    ("/rag/stream_log", {"input": QUESTION, "bogus": 1}, 422),
    ("/rag/batch", {"inputs": [QUESTION] * 4}, 413),
    ("/rag/batch", {"inputs": "not a list"}, 422),
    ("/rag/batch", {"inputs": [QUESTION, {"question": "x" * 201}]}, 413),
    ("/retriever/invoke", {"input": {"question": False}}, 422),
    (
        "/conversation/invoke",
        {"input": {"messages": [{"type": "human", "content": "x" * 201}]}},
        413,
    ),
]


@pytest.mark.parametrize(("path", "body", "status"), JSON_CASES)
async def test_bad_json_input_is_a_clear_4xx(
    client: httpx.AsyncClient, path: str, body: Any, status: int
) -> None:
    _assert_error(await client.post(path, json=body), status)
    healthy = await client.post("/chat", json=QUESTION)
    assert healthy.status_code == 200, healthy.text


# Bytes that are not UTF-8: FastAPI's body parsing (our routes) says 400, LangServe's guard 422.
@pytest.mark.parametrize(
    ("path", "not_utf8_status"),
    [("/chat", 400), ("/chat/stream", 400), ("/rag/invoke", 422), ("/rag/stream", 422)],
)
async def test_malformed_json_and_wrong_content_type(
    client: httpx.AsyncClient, path: str, not_utf8_status: int
) -> None:
    json_header = {"content-type": "application/json"}
    _assert_error(await client.post(path, content=b'{"question": ', headers=json_header), 422)
    _assert_error(
        await client.post(path, content=b"\xff\xfe\x00", headers=json_header), not_utf8_status
    )
    body = _assert_error(
        await client.post(path, content=b"question=hi", headers={"content-type": "text/plain"}),
        415,
    )
    assert "application/json" in body["message"]
    _assert_error(await client.post(path, data={"question": "hi"}), 415)


async def test_huge_bodies_are_refused_before_reading(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", max_body_bytes=4096)
    async with app_client(res) as (_, client):
        big = {"question": "x" * 10_000}
        for path, body in (("/chat", big), ("/rag/invoke", {"input": big})):
            _assert_error(await client.post(path, json=body), 413)

        async def chunks() -> AsyncIterator[bytes]:
            for _ in range(10):
                yield b"x" * 1000

        streamed = await client.post(
            "/rag/invoke", content=chunks(), headers={"content-type": "application/json"}
        )
        _assert_error(streamed, 413)
        assert (await client.post("/chat", json=QUESTION)).status_code == 200


async def test_a_batch_within_the_limit_still_works(client: httpx.AsyncClient) -> None:
    response = await client.post("/rag/batch", json={"inputs": [QUESTION] * 3})
    assert response.status_code == 200, response.text
    assert len(response.json()["output"]) == 3


async def test_unknown_routes_and_methods_use_the_same_shape(client: httpx.AsyncClient) -> None:
    assert _assert_error(await client.get("/nope"), 404)["error"] == "not_found"
    assert _assert_error(await client.get("/chat"), 405)["error"] == "method_not_allowed"
