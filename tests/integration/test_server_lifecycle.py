"""Starting the real server: before any index exists, picking up the first ingest, and via uvicorn.

The server only opens the index (it never creates it), so one started on an empty data dir must still
come up, say the index is missing, refuse without calling the model, and then answer once
``rag-ingest`` has built the collection, without a restart.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from rag_core.settings import REFUSAL

from tests.conftest import BIN, SAMPLES, run_ingest, wait_until
from tests.support.servers import LiveServer, free_port, launch

pytestmark = pytest.mark.slow

PORT_Q = "Which port does Quillfeather listen on?"


def _health(url: str) -> dict:
    return httpx.get(f"{url}/health", timeout=10).json()  # type: ignore[no-any-return]


def test_server_without_index_starts_then_serves_the_first_ingest(
    rag_env: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    server = live_server(rag_env)
    before = _health(server.url)
    assert (before["status"], before["index"], before["documents"]) == ("degraded", "missing", 0)
    assert "rag-ingest" in before["hint"]
    assert not (Path(rag_env["RAG_DATA_DIR"]) / "chroma").exists(), (
        "serving must not create a store"
    )
    refused = httpx.post(f"{server.url}/chat", json={"question": PORT_Q}, timeout=60).json()
    assert (refused["answer"], refused["sources"]) == (REFUSAL, [])

    result = run_ingest(str(SAMPLES), "--json", env=rag_env)
    assert result.returncode == 0, result.stderr

    assert wait_until(lambda: _health(server.url)["index"] == "ready", timeout=30), server.log()
    after = _health(server.url)
    assert after["status"] == "ok" and after["documents"] > 10
    answer = httpx.post(f"{server.url}/chat", json={"question": PORT_Q}, timeout=180).json()
    assert answer["answer"] != REFUSAL
    assert "getting-started.md" in {s["source"] for s in answer["sources"]}
    assert server.alive()


def test_open_store_picks_up_a_collection_created_later(
    sample_index: dict[str, str], tmp_path: Path, live_server: Callable[..., LiveServer]
) -> None:
    """The server's Chroma client is already open (another collection exists): a collection that
    another process creates afterwards must still be found without a restart."""
    data = tmp_path / "data"
    shutil.copytree(sample_index["RAG_DATA_DIR"], data)
    env = {**sample_index, "RAG_DATA_DIR": str(data), "RAG_COLLECTION": "later"}
    server = live_server(env)
    assert _health(server.url)["index"] == "missing"
    assert (data / "chroma" / "chroma.sqlite3").exists()

    result = run_ingest(str(SAMPLES / "getting-started.md"), "--json", env=env)
    assert result.returncode == 0, result.stderr

    assert wait_until(lambda: _health(server.url)["index"] == "ready", timeout=30), server.log()
    answer = httpx.post(f"{server.url}/chat", json={"question": PORT_Q}, timeout=180).json()
    assert {s["source"] for s in answer["sources"]} == {"getting-started.md"}


@pytest.fixture
def uvicorn_server(sample_index: dict[str, str], tmp_path: Path) -> Iterator[str]:
    """``uvicorn app.server:app`` (the module-level app, built from the environment's settings)."""
    port = free_port()
    command = [str(BIN / "uvicorn"), "app.server:app", "--host", "127.0.0.1", "--port", str(port)]
    server = launch(command, {**os.environ, **sample_index}, port, tmp_path / "uvicorn.log")
    try:
        yield server.url
    finally:
        server.stop()


def test_uvicorn_entry_point_serves_the_chain(uvicorn_server: str) -> None:
    health = _health(uvicorn_server)
    assert health["index"] == "ready" and health["documents"] > 10
    started = time.monotonic()
    output = httpx.post(
        f"{uvicorn_server}/rag/invoke", json={"input": {"question": PORT_Q}}, timeout=180
    ).json()["output"]
    assert output["answer"].strip() and output["answer"] != REFUSAL
    assert output["sources"], f"no sources after {time.monotonic() - started:.1f} s"
    chat = httpx.post(f"{uvicorn_server}/chat", json={"question": PORT_Q}, timeout=180)
    assert chat.status_code == 200 and chat.json()["sources"] == output["sources"]
