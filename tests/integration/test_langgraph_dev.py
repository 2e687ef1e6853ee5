"""``langgraph dev`` serves the graph of langgraph.json, and a run over its HTTP API answers.

``langgraph dev`` cannot share .venv (langgraph-api needs sse-starlette 3.x, langserve pins <2), so
this uses ``.venv-langgraph``, built by ``make langgraph-venv`` only when it is missing or stale
(~5 min on 2 cores the first time, seconds after). The dev server runs offline, without reload,
from a temp working directory (it writes ``.langgraph_api/`` there) against the sample index.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from rag_core.settings import REFUSAL

from tests.conftest import ROOT
from tests.support.servers import free_port, launch

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1500)]

LG_BIN = ROOT / ".venv-langgraph" / "bin" / "langgraph"
ANSI = re.compile(r"\x1b\[[0-9;]*m")
API_LINE = re.compile(r"API:\s*http://127\.0\.0\.1:(\d+)")


@pytest.fixture(scope="module")
def langgraph_bin() -> Path:
    """The langgraph CLI of .venv-langgraph, (re)built by make only when needed."""
    result = subprocess.run(
        ["make", "-s", "langgraph-venv"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
        check=False,
    )
    assert result.returncode == 0, f"make langgraph-venv failed:\n{result.stdout}\n{result.stderr}"
    assert LG_BIN.exists()
    return LG_BIN


def _api_port(log: str) -> int | None:
    """The port langgraph dev really listens on (it moves to another port if ours was taken)."""
    match = API_LINE.search(ANSI.sub("", log))
    return int(match.group(1)) if match else None


@pytest.fixture(scope="module")
def langgraph_server(
    langgraph_bin: Path, sample_index: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A running ``langgraph dev`` over the sample index; yields its base URL."""
    workdir = tmp_path_factory.mktemp("langgraph")
    port = free_port()
    command = [str(langgraph_bin), "dev", "--config", str(ROOT / "langgraph.json")]
    command += ["--no-browser", "--no-reload", "--host", "127.0.0.1", "--port", str(port)]
    server = launch(
        command,
        {**os.environ, **sample_index, "LANGGRAPH_CLI_NO_ANALYTICS": "1"},
        port,
        workdir / "langgraph.log",
        timeout=180,
        health="/ok",
        cwd=workdir,  # it writes .langgraph_api/ there
        poll_every=0.5,
        stop_signal=signal.SIGTERM,
        own_group=True,  # its API server runs in a child process: stop them all
        port_from_log=_api_port,
    )
    yield server.url
    server.stop()


def _run(url: str, question: str) -> dict:
    response = httpx.post(
        f"{url}/runs/wait",
        json={"assistant_id": "rag", "input": {"question": question}},
        timeout=300,
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def test_graph_is_registered(langgraph_server: str) -> None:
    response = httpx.post(f"{langgraph_server}/assistants/search", json={}, timeout=30)
    assert response.status_code == 200, response.text
    assert "rag" in {a["graph_id"] for a in response.json()}


def test_run_answers_with_sources(langgraph_server: str) -> None:
    state = _run(langgraph_server, "Which port does Quillfeather listen on?")
    assert state["question"] == "Which port does Quillfeather listen on?"
    assert state["answer"].strip() and state["answer"] != REFUSAL
    assert "getting-started.md" in {s["source"] for s in state["sources"]}
    assert "7420" in " ".join(s["snippet"] for s in state["sources"])


def test_run_refuses_off_domain_questions(langgraph_server: str) -> None:
    state = _run(langgraph_server, "What is the capital of France?")
    assert (state["answer"], state["sources"]) == (REFUSAL, [])
