"""The real server, the real model in its real worker process, and real signals.

A native crash of llama.cpp (here: SIGSEGV / SIGKILL sent to the worker) fails only the request in
flight; the server process lives on, restarts the worker and answers the next question. A model
that cannot load leaves the server up, says why on /ready, and is not restarted in a storm. The
server process itself never maps libllama / libggml.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from httpx_sse import connect_sse

from tests.support.processes import children_of, is_alive
from tests.support.servers import LiveServer

pytestmark = pytest.mark.slow

LONG = {
    "question": "Explain in detail how to install, configure and run Quillfeather, step by step."
}


def worker_of(server: LiveServer) -> dict[str, Any]:
    body = httpx.get(f"{server.url}/health", timeout=10).json()
    return body["model_worker"]  # type: ignore[no-any-return]


def _metric(server: LiveServer, name: str) -> float:
    text = httpx.get(f"{server.url}/metrics", timeout=10).text
    match = re.search(rf"^{name} (\S+)$", text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


def _wait(predicate: Callable[[], bool], timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def _stream_and_kill(
    server: LiveServer, sig: int, queued: Callable[[], None] | None = None
) -> list[tuple[str, Any]]:
    """Stream a long answer; after its first token start ``queued`` (a request that must wait
    behind it), then send ``sig`` to the worker; return the stream's events."""
    events: list[tuple[str, Any]] = []
    pid = worker_of(server)["pid"]
    with (
        httpx.Client(timeout=120) as client,
        connect_sse(client, "POST", f"{server.url}/chat/stream", json=LONG) as source,
    ):
        for sse in source.iter_sse():
            events.append((sse.event, json.loads(sse.data)))
            if sse.event == "token" and sum(e == "token" for e, _ in events) == 1:
                if queued is not None:
                    queued()
                    time.sleep(1.0)  # retrieved, budgeted and waiting in the worker's queue
                os.kill(pid, sig)
    return events


def test_a_worker_segfault_mid_stream_fails_only_that_stream(
    sample_index: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    server = live_server(sample_index, RAG_LLM_MAX_TOKENS="300", RAG_SCORE_THRESHOLD="0.0")
    first = worker_of(server)
    assert first["state"] == "ready" and first["restarts"] == 0
    waiting: dict[str, httpx.Response] = {}

    def ask_while_busy() -> None:
        question = {"question": "How much does the Team plan cost?"}
        waiting["r"] = httpx.post(f"{server.url}/chat", json=question, timeout=120)

    behind = threading.Thread(target=ask_while_busy)
    events = _stream_and_kill(server, signal.SIGSEGV, queued=behind.start)

    kinds = [kind for kind, _ in events]
    assert kinds[0] == "sources" and "token" in kinds
    assert kinds[-1] == "error", kinds
    assert events[-1][1]["error"] == "model_crashed"
    assert "SIGSEGV" in events[-1][1]["message"]
    assert "done" not in kinds
    # the question queued behind the crashed one is answered by the restarted worker
    behind.join(120)
    assert waiting["r"].status_code == 200, waiting["r"].text
    assert waiting["r"].json()["answer"].strip()
    # the server process lived through it; the old worker is gone and reaped
    assert server.alive()
    assert not is_alive(first["pid"])
    answer = httpx.post(
        f"{server.url}/chat",
        json={"question": "Which port does Quillfeather listen on?"},
        timeout=120,
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["answer"].strip()
    now = worker_of(server)
    assert now["state"] == "ready" and now["pid"] != first["pid"]
    assert (now["crashes"], now["restarts"]) == (1, 1)
    assert _metric(server, "rag_model_worker_crashes_total") == 1
    assert _metric(server, "rag_model_worker_restarts_total") == 1
    assert "crashed (SIGSEGV)" in server.log()
    assert children_of(server.process.pid) == [now["pid"]]  # one worker, no orphans or zombies


def _assert_invoke_answers(server: LiveServer) -> None:
    """The next /rag/invoke is answered (by the restarted worker)."""
    again = httpx.post(
        f"{server.url}/rag/invoke",
        json={"input": {"question": "Which port does Quillfeather listen on?"}},
        timeout=120,
    )
    assert again.status_code == 200, again.text
    assert again.json()["output"]["answer"].strip()


def _invoke_and_signal(server: LiveServer, pid: int, sig: int) -> httpx.Response:
    """/rag/invoke a long answer; once the model is generating, send ``sig`` to the worker."""
    result: dict[str, httpx.Response] = {}

    def invoke() -> None:
        result["r"] = httpx.post(f"{server.url}/rag/invoke", json={"input": LONG}, timeout=120)

    thread = threading.Thread(target=invoke)
    before = _metric(server, "rag_llm_tokens_generated_total")
    thread.start()
    # generating (prompt evaluation alone can take tens of seconds on a loaded 2-core machine)
    assert _wait(lambda: _metric(server, "rag_llm_tokens_generated_total") > before + 2, 120)
    os.kill(pid, sig)
    thread.join(120)
    return result["r"]


def test_langserve_invoke_gets_503_model_crashed_and_the_next_call_answers(
    sample_index: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    server = live_server(sample_index, RAG_LLM_MAX_TOKENS="300", RAG_SCORE_THRESHOLD="0.0")
    pid = worker_of(server)["pid"]
    response = _invoke_and_signal(server, pid, signal.SIGKILL)  # what the OOM killer does
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "model_crashed"
    assert "SIGKILL" in response.json()["message"]
    _assert_invoke_answers(server)


def test_a_hung_worker_is_killed_and_langserve_gets_504_model_stalled(
    sample_index: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    # SIGSTOP: the process lives on but makes no progress, as a native call that never returns
    server = live_server(
        sample_index, RAG_LLM_MAX_TOKENS="300", RAG_SCORE_THRESHOLD="0.0", RAG_LLM_TIMEOUT="30"
    )
    pid = worker_of(server)["pid"]
    response = _invoke_and_signal(server, pid, signal.SIGSTOP)
    assert response.status_code == 504, response.text
    assert response.json()["error"] == "model_stalled"
    assert "made no progress for 30 s" in response.json()["message"]
    assert not is_alive(pid)  # killed (a stopped process takes SIGKILL) and reaped
    events: list[tuple[str, str]] = []
    with (
        httpx.Client(timeout=120) as client,
        connect_sse(client, "POST", f"{server.url}/rag/stream", json={"input": LONG}) as source,
        # LangServe re-raises after sending its error event, so the body ends without its last chunk
        contextlib.suppress(httpx.RemoteProtocolError),
    ):
        for sse in source.iter_sse():
            events.append((sse.event, sse.data))
            if sum('"answer"' in data for _, data in events) == 1 and '"answer"' in sse.data:
                os.kill(worker_of(server)["pid"], signal.SIGSTOP)  # answering: now it hangs
    assert events[-1][0] == "error", events
    assert json.loads(events[-1][1])["status_code"] == 504
    assert json.loads(events[-1][1])["error"] == "model_stalled"
    _assert_invoke_answers(server)
    now = worker_of(server)
    assert (now["state"], now["crashes"], now["restarts"]) == ("ready", 2, 2)
    assert f"model worker pid {pid} made no progress for 30 s" in server.log()
    assert children_of(server.process.pid) == [now["pid"]]


def test_sigterm_mid_stream_stops_server_and_worker(
    sample_index: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    server = live_server(sample_index, RAG_LLM_MAX_TOKENS="300", RAG_SCORE_THRESHOLD="0.0")
    worker = worker_of(server)["pid"]
    with (
        httpx.Client(timeout=120) as client,
        client.stream("POST", f"{server.url}/chat/stream", json=LONG) as response,
    ):
        for chunk in response.iter_text():
            if "event: token" in chunk:
                break
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=30)
    assert _wait(lambda: not is_alive(worker), timeout=10)


def test_the_server_process_never_maps_libllama(
    sample_index: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    server = live_server(sample_index)
    answer = httpx.post(
        f"{server.url}/chat",
        json={"question": "Which port does Quillfeather listen on?"},
        timeout=120,
    )
    assert answer.status_code == 200
    maps = Path(f"/proc/{server.process.pid}/maps").read_text()
    assert "libllama" not in maps and "libggml" not in maps
    worker_maps = Path(f"/proc/{worker_of(server)['pid']}/maps").read_text()
    assert "libllama" in worker_maps  # the check above can see a mapped libllama


def test_a_corrupt_gguf_leaves_the_server_up_and_says_why(
    sample_index: dict[str, str], live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + os.urandom(4096))
    server = live_server(sample_index, RAG_LLM_MODEL=str(broken))

    ready = httpx.get(f"{server.url}/ready", timeout=10)
    assert ready.status_code == 503
    body = ready.json()
    assert body["index"] == "ok" and body["ready"] is False
    assert "broken.gguf" in body["llm"] and "could not be loaded" in body["llm"]
    assert "RAG_LLM_MODEL" in body["llm"]  # the fix

    retrieved = httpx.post(
        f"{server.url}/retriever/invoke",
        json={"input": {"question": "Which port does Quillfeather listen on?"}},
        timeout=30,
    )
    assert retrieved.status_code == 200 and retrieved.json()["output"]
    health = httpx.get(f"{server.url}/health", timeout=10)
    assert health.status_code == 200
    assert health.json()["model_worker"]["state"] == "failed"

    chat = httpx.post(
        f"{server.url}/chat",
        json={"question": "Which port does Quillfeather listen on?"},
        timeout=30,
    )
    assert chat.status_code == 503
    assert chat.json()["error"] == "model_unavailable"

    time.sleep(3)  # far past every backoff: no more starts
    worker = worker_of(server)
    assert (worker["restarts"], worker["state"], worker["pid"]) == (2, "failed", None)
    assert children_of(server.process.pid) == []
    assert server.log().count("failed to load") == 2 + 1  # two retries logged, then giving up


@pytest.mark.parametrize("verb", ["stream", "astream_events"])
def test_remote_runnable_streams_get_a_503_model_crashed(
    sample_index: dict[str, str], live_server: Callable[..., LiveServer], verb: str
) -> None:
    """LangServe's streamed error event carries our code and a 503 instead of a bare 500."""
    import asyncio

    from langserve import RemoteRunnable

    server = live_server(sample_index, RAG_LLM_MAX_TOKENS="300", RAG_SCORE_THRESHOLD="0.0")
    pid = worker_of(server)["pid"]
    rag = RemoteRunnable(f"{server.url}/rag/", timeout=120)
    seen: list[Any] = []

    def answering(item: Any) -> bool:
        if verb == "stream":
            return "answer" in item
        return item["event"] == "on_chat_model_stream"

    async def consume() -> None:
        stream = rag.astream(LONG) if verb == "stream" else rag.astream_events(LONG, version="v2")
        try:
            async for item in stream:
                seen.append(item)
                if answering(item) and sum(map(answering, seen)) == 2:  # once, mid-answer
                    os.kill(pid, signal.SIGSEGV)
        finally:
            await rag.async_client.aclose()

    with pytest.raises(httpx.HTTPStatusError) as caught:
        asyncio.run(consume())
    assert caught.value.response.status_code == 503
    assert "model worker crashed (SIGSEGV)" in caught.value.response.text
    assert server.alive()
