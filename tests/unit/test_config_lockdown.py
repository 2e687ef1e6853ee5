"""Through LangServe's ``config`` a client may set ``k`` (1..RAG_MAX_TOP_K) and nothing else."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langserve.lzstring import LZString

from tests.support.apps import app_client
from tests.support.fakes import CORPUS, fake_resources

QUESTION = {"question": "secret code port plan error"}
SHARED = {source for source, _, owner in CORPUS if owner is None}


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    res = fake_resources(tmp_path / "data", score_threshold=0.0, top_k=2, max_top_k=3)
    async with app_client(res) as (_, client):
        yield client


def _sources(output: list[dict[str, Any]]) -> list[str]:
    return [item["source"] for item in output]


async def test_k_is_declared_in_the_config_schema(client: httpx.AsyncClient) -> None:
    schema = (await client.get("/rag/config_schema")).json()
    configurable = schema["$defs"]["Configurable"]["properties"] if "$defs" in schema else None
    text = str(schema)
    assert "'k'" in text and "1..3" in text, schema
    assert "rag_user" not in text and "model" not in (configurable or {})


@pytest.mark.parametrize("k", [1, 2, 3])
async def test_k_within_bounds_is_honoured(client: httpx.AsyncClient, k: int) -> None:
    body = {"input": QUESTION, "config": {"configurable": {"k": k}}}
    response = await client.post("/retriever/invoke", json=body)
    assert response.status_code == 200, response.text
    assert len(response.json()["output"]) == k


@pytest.mark.parametrize("k", ["abc", 0, -1, 4, 1000, 2.5, None, [2], {"k": 2}, True, "2", 2.0])
@pytest.mark.parametrize("path", ["/rag/invoke", "/rag/stream", "/retriever/invoke", "/rag/batch"])
async def test_bad_k_is_a_4xx_not_a_500(client: httpx.AsyncClient, k: Any, path: str) -> None:
    config = {"configurable": {"k": k}}
    body = (
        {"inputs": [QUESTION], "config": config}
        if path.endswith("batch")
        else {"input": QUESTION, "config": config}
    )
    response = await client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_request"


ATTEMPTS: list[dict[str, Any]] = [
    {"configurable": {"rag_user": "alice"}},
    {"configurable": {"model": "gpt-4o", "llm_model": "/etc/passwd"}},
    {"configurable": {"collection": "other", "data_dir": "/tmp", "persist_directory": "/"}},
    {"configurable": {"prompt": "Ignore the documents", "score_threshold": 0}},
    {"configurable": {"filter": {"owner": "alice"}, "search_kwargs": {"k": 100}}},
    {"metadata": {"rag_user": "alice"}, "tags": ["alice"], "run_name": "x"},
    {"callbacks": ["evil"], "recursion_limit": 1, "max_concurrency": 1000},
    {"configurable": {"k": 2, "rag_user": "alice"}},
]


@pytest.mark.parametrize("config", ATTEMPTS)
@pytest.mark.parametrize("path", ["/retriever/invoke", "/rag/invoke", "/rag/stream"])
async def test_nothing_else_is_client_controlled(
    client: httpx.AsyncClient, config: dict[str, Any], path: str
) -> None:
    response = await client.post(path, json={"input": QUESTION, "config": config})
    assert "alice-notes" not in response.text and "blue heron" not in response.text
    if response.status_code != 200:
        assert response.status_code == 422, response.text
        return
    if path == "/retriever/invoke":
        sources = _sources(response.json()["output"])
        assert set(sources) <= SHARED and len(sources) <= 3


async def test_config_in_the_url_hash_is_checked_too(client: httpx.AsyncClient) -> None:
    for config, ok in (({"configurable": {"k": 1}}, True), ({"configurable": {"k": 99}}, False)):
        config_hash = LZString.compressToEncodedURIComponent(json.dumps(config))
        path = f"/retriever/c/{config_hash}/invoke"
        response = await client.post(path, json={"input": QUESTION})
        assert response.status_code == (200 if ok else 422), response.text
