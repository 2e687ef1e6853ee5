"""A Chroma server instead of the embedded store: ingest into it, serve from it, survive its restart."""

from __future__ import annotations

import json
import os
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import BIN, SAMPLES, run_ingest, wait_until
from tests.support.servers import LiveServer, free_port

pytestmark = pytest.mark.slow

PORT_Q = "Which port does Quillfeather listen on?"


@dataclass
class ChromaServer:
    """A `chroma run` process we started, and how to restart it on the same path and port."""

    path: Path
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    str(BIN / "chroma"),
                    "run",
                    "--path",
                    str(self.path),
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                ],
                env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
                stdout=out,
                stderr=subprocess.STDOUT,
            )

        def up() -> bool:
            assert self.process is not None and self.process.poll() is None, self.log.read_text()
            try:
                return httpx.get(f"{self.url}/api/v2/heartbeat", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        assert wait_until(up, timeout=60, step=0.2), self.log.read_text()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)


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
