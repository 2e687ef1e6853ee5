"""A Chroma server instead of the embedded store: ingest into it, serve from it, survive its restart."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import SAMPLES, run_ingest, wait_until
from tests.support.chroma import ChromaServer
from tests.support.servers import LiveServer, free_port

pytestmark = pytest.mark.slow

PORT_Q = "Which port does Quillfeather listen on?"


@pytest.fixture
def chroma(tmp_path: Path) -> Iterator[ChromaServer]:
    server = ChromaServer(tmp_path / "chroma-server", free_port(), tmp_path / "chroma.log")
    server.start()
    yield server
    server.stop()


def _ask(server: LiveServer) -> dict:
    response = httpx.post(f"{server.url}/chat", json={"question": PORT_Q}, timeout=180)
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_ingest_serve_and_restart_with_a_chroma_server(
    chroma: ChromaServer, rag_env: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    env = {**rag_env, "RAG_CHROMA_URL": chroma.url}
    result = run_ingest(str(SAMPLES), "--json", env=env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["added"] > 10
    assert not (Path(rag_env["RAG_DATA_DIR"]) / "chroma").exists(), "nothing in the embedded store"

    server = live_server(env)
    health = httpx.get(f"{server.url}/health", timeout=10).json()
    assert health["vectorstore"] == "chroma-server"
    assert health["index"] == "ready" and health["documents"] == report["chunks_total"]
    first = _ask(server)
    assert "getting-started.md" in {s["source"] for s in first["sources"]}

    chroma.stop()
    down = httpx.get(f"{server.url}/health", timeout=30)
    assert down.status_code == 200, "health must answer while the store is down"
    assert down.json()["status"] == "degraded"
    assert down.json()["index"].startswith("error")
    chroma.start()

    assert wait_until(
        lambda: httpx.get(f"{server.url}/health", timeout=10).json()["status"] == "ok", timeout=30
    ), server.log()
    health = httpx.get(f"{server.url}/health", timeout=10).json()
    assert health["documents"] == report["chunks_total"], "the data survived the restart"
    again = _ask(server)
    assert again["sources"] == first["sources"]

    rerun = run_ingest(str(SAMPLES), "--json", env=env)
    assert rerun.returncode == 0, rerun.stderr
    unchanged = json.loads(rerun.stdout.strip().splitlines()[-1])
    assert (unchanged["added"], unchanged["deleted"]) == (0, 0)
    assert unchanged["chunks_total"] == report["chunks_total"]
