"""``content``: /rag's answer with its sources below as one text, for LangServe's playground.

The step only adds ``content``: the chunks clients read keep their fields and order (sources
first, then answer pieces), and ``/chat`` (the chain without the step) is unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langchain_core.runnables import RunnableGenerator
from langchain_core.runnables.utils import AddableDict
from rag_chain import with_readable_text
from rag_chain.readable import source_line, sources_text
from rag_core.settings import REFUSAL

from tests.support.apps import app_client
from tests.support.fakes import fake_chat_model, fake_resources
from tests.support.sse import parse_sse

SETUP = {
    "source": "setup.md",
    "page": None,
    "start_line": 40,
    "end_line": 58,
    "headings": "Install › Linux",
    "score": 0.7081,
    "snippet": "…",
}
GUIDE = {**SETUP, "source": "guide.pdf", "page": 3, "start_line": None, "end_line": None}
GUIDE.update(headings=None, score=0.5)
HEAD = {"sources": [SETUP, GUIDE], "context": {"answer_mode": "generate", "chunks_used": 2}}
PIECES = ["Run ", "`quill ", "serve`."]
LIST = "\n\nSources:\n1. setup.md:40-58 · Install › Linux (relevance 0.71)\n2. guide.pdf p.3 (relevance 0.50)"


def _chain(*chunks: dict[str, Any]) -> Any:
    """A stand-in for the RAG chain that streams ``chunks`` as it does."""

    def stream(_: Iterator[Any]) -> Iterator[AddableDict]:
        yield from (AddableDict(chunk) for chunk in chunks)

    async def astream(_: AsyncIterator[Any]) -> AsyncIterator[AddableDict]:
        for chunk in chunks:
            yield AddableDict(chunk)

    return with_readable_text(RunnableGenerator(stream, astream))


ANSWERED = (HEAD, *({"answer": piece} for piece in PIECES))


def test_the_sources_list_names_file_lines_page_headings_and_relevance() -> None:
    assert source_line(1, SETUP) == "1. setup.md:40-58 · Install › Linux (relevance 0.71)"
    assert source_line(2, GUIDE) == "2. guide.pdf p.3 (relevance 0.50)"
    assert sources_text([SETUP, GUIDE]) == LIST
    assert sources_text([]) == ""


def test_stream_adds_content_and_keeps_every_chunk_in_order() -> None:
    chunks = list(_chain(*ANSWERED).stream({"question": "q"}))
    assert chunks == [
        {**HEAD, "content": ""},
        *({"answer": piece, "content": piece} for piece in PIECES),
        {"content": LIST},
    ]


async def test_astream_is_the_same() -> None:
    chunks = [c async for c in _chain(*ANSWERED).astream({"question": "q"})]
    assert chunks == list(_chain(*ANSWERED).stream({"question": "q"}))


def test_invoke_merges_into_the_answer_with_its_sources_below() -> None:
    output = _chain(*ANSWERED).invoke({"question": "q"})
    assert output == {
        **HEAD,
        "answer": "Run `quill serve`.",
        "content": "Run `quill serve`." + LIST,
    }


def test_a_refusal_has_no_sources_list() -> None:
    refusal = ({"sources": [], "context": {"refused": True}}, {"answer": REFUSAL})
    chunks = list(_chain(*refusal).stream({"question": "q"}))
    assert chunks[-1] == {"answer": REFUSAL, "content": REFUSAL}
    assert _chain(*refusal).invoke({"question": "q"})["content"] == REFUSAL


def test_a_closing_context_chunk_keeps_its_place() -> None:
    verified = (*ANSWERED, {"context": {"supports": []}})
    chunks = list(_chain(*verified).stream({"question": "q"}))
    assert chunks[-2:] == [{"context": {"supports": []}, "content": ""}, {"content": LIST}]


PRICING_Q = "How much does the Team plan cost?"
REPLY = "Twelve euros per user per month."


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(fake_resources(tmp_path / "data", fake_chat_model(REPLY))) as (_, c):
        yield c


async def test_rag_publishes_content_and_chat_does_not(client: httpx.AsyncClient) -> None:
    invoked = await client.post("/rag/invoke", json={"input": {"question": PRICING_Q}})
    assert invoked.status_code == 200, invoked.text
    output = invoked.json()["output"]
    assert output["answer"] == REPLY
    assert output["content"] == REPLY + sources_text(output["sources"])
    assert "\nSources:\n1. pricing.md" in output["content"]

    schema = (await client.get("/rag/output_schema")).json()
    assert {"answer", "sources", "context", "content"} <= set(schema["properties"])

    chat = (await client.post("/chat", json={"question": PRICING_Q})).json()
    assert chat["answer"] == REPLY and "content" not in chat


async def test_the_playground_stream_log_renders_as_one_text(client: httpx.AsyncClient) -> None:
    """What the playground posts, and what it renders: every streamed chunk has a string
    ``content`` (so it joins them instead of printing JSON), and the join is answer + sources."""
    response = await client.post(
        "/rag/stream_log", json={"input": {"question": PRICING_Q}, "config": {}}
    )
    assert response.status_code == 200, response.text
    ops = [op for name, data in parse_sse(response.text) if name == "data" for op in data["ops"]]
    streamed = [op["value"] for op in ops if op["path"] == "/streamed_output/-"]
    assert all(isinstance(chunk.get("content"), str) for chunk in streamed)
    assert "sources" in streamed[0] and "answer" not in streamed[0]
    sources = streamed[0]["sources"]
    assert "".join(chunk["content"] for chunk in streamed) == REPLY + sources_text(sources)
