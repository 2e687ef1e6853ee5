"""LangServe's own clients on every verb of /rag, against the real server, model and sample index.

Python's ``langserve.RemoteRunnable`` (invoke, ainvoke, batch, abatch, stream, astream,
astream_log, astream_events) and LangChain.js's (invoke, batch, stream, streamLog, streamEvents v2,
tests/clients/js). Each verb must bring back the real answer to a README question with the right
source, and the top-level body fields each client sent are captured and compared with
``app.langserve.client_fields``: the sets the body guard accepts are exactly what clients send.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from langserve import RemoteRunnable
from rag_chain.readable import sources_text
from rag_core.settings import REFUSAL

from app.langserve.body_guard import ALLOWED_FIELDS
from app.langserve.client_fields import JS_CLIENT, PYTHON_CLIENT
from tests.support.js_client import require_js_client, run_js_client
from tests.support.servers import LiveServer

pytestmark = pytest.mark.slow

PORT_Q = "Which port does Quillfeather listen on?"
PORT_SOURCE = "getting-started.md"
PRICE_Q = "How much does the Team plan cost?"
PRICE_SOURCE = "pricing.md"


class RecordingRemoteRunnable(RemoteRunnable):
    """A RemoteRunnable that remembers the top-level body fields of each request, per endpoint."""

    def __init__(self, url: str) -> None:
        super().__init__(url, timeout=240)
        self.sent: dict[str, set[str]] = {}
        self.sync_client.event_hooks["request"] = [self._record]
        self.async_client.event_hooks["request"] = [self._arecord]

    def _record(self, request: httpx.Request) -> None:
        endpoint = request.url.path.rstrip("/").rsplit("/", 1)[-1]
        self.sent[endpoint] = set(json.loads(request.read()))

    async def _arecord(self, request: httpx.Request) -> None:
        self._record(request)


@pytest.fixture
def rag(sample_server: LiveServer) -> Iterator[RecordingRemoteRunnable]:
    client = RecordingRemoteRunnable(f"{sample_server.url}/rag/")
    yield client
    client.sync_client.close()


@pytest.fixture
async def arag(sample_server: LiveServer) -> AsyncIterator[RecordingRemoteRunnable]:
    client = RecordingRemoteRunnable(f"{sample_server.url}/rag/")
    yield client
    await client.async_client.aclose()


def _check_answer(output: dict[str, Any], source: str) -> None:
    """A real answer (not the refusal) citing ``source``, and ``content`` = answer + sources."""
    assert isinstance(output["answer"], str) and output["answer"].strip(), output
    assert output["answer"] != REFUSAL
    assert source in [s["source"] for s in output["sources"]], output["sources"]
    assert output["content"] == output["answer"] + sources_text(output["sources"])


def _check_fields(client: RecordingRemoteRunnable, endpoint: str) -> None:
    assert client.sent[endpoint] == PYTHON_CLIENT[endpoint]
    assert client.sent[endpoint] <= ALLOWED_FIELDS[endpoint]


def _check_chunks(chunks: list[dict[str, Any]]) -> None:
    """Sources first, then the answer in several pieces, then the readable sources list."""
    assert "sources" in chunks[0] and "answer" not in chunks[0], chunks[0]
    assert PORT_SOURCE in [s["source"] for s in chunks[0]["sources"]]
    pieces = [c["answer"] for c in chunks if c.get("answer")]
    assert len(pieces) > 1, "the answer streams in pieces"
    assert "".join(pieces).strip() and "".join(pieces) != REFUSAL
    assert chunks[-1] == {"content": sources_text(chunks[0]["sources"])}


def test_invoke(rag: RecordingRemoteRunnable) -> None:
    _check_answer(rag.invoke({"question": PORT_Q}), PORT_SOURCE)
    _check_fields(rag, "invoke")


async def test_ainvoke(arag: RecordingRemoteRunnable) -> None:
    _check_answer(await arag.ainvoke({"question": PRICE_Q}), PRICE_SOURCE)
    _check_fields(arag, "invoke")


def test_batch(rag: RecordingRemoteRunnable) -> None:
    port, price = rag.batch([{"question": PORT_Q}, {"question": PRICE_Q}])
    _check_answer(port, PORT_SOURCE)
    _check_answer(price, PRICE_SOURCE)
    _check_fields(rag, "batch")


async def test_abatch(arag: RecordingRemoteRunnable) -> None:
    port, price = await arag.abatch([{"question": PORT_Q}, {"question": PRICE_Q}])
    _check_answer(port, PORT_SOURCE)
    _check_answer(price, PRICE_SOURCE)
    _check_fields(arag, "batch")


def test_stream(rag: RecordingRemoteRunnable) -> None:
    _check_chunks(list(rag.stream({"question": PORT_Q})))
    _check_fields(rag, "stream")


async def test_astream(arag: RecordingRemoteRunnable) -> None:
    _check_chunks([chunk async for chunk in arag.astream({"question": PORT_Q})])
    _check_fields(arag, "stream")


async def test_astream_log(arag: RecordingRemoteRunnable) -> None:
    log = None
    async for patch in arag.astream_log({"question": PORT_Q}):
        log = patch if log is None else log + patch
    assert log is not None
    state = log.state  # the patches applied: what the playground renders
    _check_chunks(state["streamed_output"])
    _check_answer(state["final_output"], PORT_SOURCE)
    _check_fields(arag, "stream_log")


async def test_astream_events(arag: RecordingRemoteRunnable) -> None:
    events = [e async for e in arag.astream_events({"question": PORT_Q}, version="v2")]
    assert (events[0]["event"], events[-1]["event"]) == ("on_chain_start", "on_chain_end")
    assert any(e["event"] == "on_chat_model_stream" for e in events), "model tokens are events"
    _check_answer(events[-1]["data"]["output"], PORT_SOURCE)
    _check_fields(arag, "stream_events")


@pytest.mark.timeout(600)
def test_langchain_js_remote_runnable_on_every_verb(sample_server: LiveServer) -> None:
    require_js_client()
    report = run_js_client(sample_server, PORT_Q, PRICE_Q, timeout=540)
    assert set(report) == set(JS_CLIENT)
    for endpoint, result in report.items():
        assert set(result["fields"]) == JS_CLIENT[endpoint], endpoint
        assert set(result["fields"]) <= ALLOWED_FIELDS[endpoint]
        if endpoint == "stream":  # chunks, not a merged output: checked below
            continue
        _check_answer(result, PORT_SOURCE)
    _check_answer(report["batch"]["second"], PRICE_SOURCE)
    stream = report["stream"]
    assert PORT_SOURCE in [s["source"] for s in stream["sources"]]
    assert stream["answer"].strip() and stream["answer"] != REFUSAL
    assert report["stream"]["first_chunk_keys"] == ["content", "context", "sources"]
    assert report["stream"]["answer_pieces"] > 1, "the answer streams in pieces"
    assert report["stream_log"]["first_chunk_keys"] == ["content", "context", "sources"]
    assert report["stream_log"]["streamed_chunks"] > 2
    assert report["stream_events"]["first_event"] == "on_chain_start"
    assert report["stream_events"]["last_event"] == "on_chain_end"
    assert report["stream_events"]["model_tokens"] > 1
