"""The chain's answer with its sources below, as one text a person reads (``content``).

LangServe's default playground prints every chunk a run streamed as its own JSON block, unless
*every* chunk carries a string ``content`` (a message chunk): then it shows those contents joined
into one text. The chain streams ``{"sources", "context"}`` first and then one ``{"answer": piece}``
per token, so ``/rag/playground/`` showed the sources and then one JSON object per token, a
12,000-pixel column for one answer.

:func:`with_readable_text` adds ``content`` to each chunk and changes nothing else: ``""`` on the
chunks without answer text, each answer piece as it streams, and one last chunk with the cited
sources as a numbered list. Merged, ``content`` is the answer with its sources below; ``answer``,
``sources`` and ``context`` and their order (sources first) are what they were.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Mapping, Sequence
from typing import Any

from langchain_core.runnables import Runnable, RunnableGenerator
from langchain_core.runnables.utils import AddableDict

from rag_chain.extract import citation_label
from rag_chain.schemas import ReadableRagAnswer

SOURCES_HEADING = "Sources:"


def source_line(number: int, source: Mapping[str, Any]) -> str:
    """One numbered entry of the list: ``1. setup.md:40-58 · Install › Linux (relevance 0.71)``."""
    where = citation_label(
        str(source.get("source", "")),
        source.get("page"),
        source.get("start_line"),
        source.get("end_line"),
    )
    headings = f" · {source['headings']}" if source.get("headings") else ""
    score = source.get("score")
    relevance = f" (relevance {score:.2f})" if isinstance(score, int | float) else ""
    return f"{number}. {where}{headings}{relevance}"


def sources_text(sources: Sequence[Mapping[str, Any]]) -> str:
    """The list that follows the answer; empty when nothing is cited (a refusal)."""
    if not sources:
        return ""
    lines = [source_line(i, source) for i, source in enumerate(sources, start=1)]
    return "\n\n" + "\n".join([SOURCES_HEADING, *lines])


class _ReadableText:
    """Adds ``content`` to one answer's chunks, remembering its sources for the closing list."""

    def __init__(self) -> None:
        self.sources: list[Mapping[str, Any]] = []

    def chunk(self, chunk: Mapping[str, Any]) -> AddableDict:
        if isinstance(chunk.get("sources"), list):
            self.sources = chunk["sources"]
        answer = chunk.get("answer")
        return AddableDict({**chunk, "content": answer if isinstance(answer, str) else ""})

    def closing(self) -> AddableDict | None:
        text = sources_text(self.sources)
        return AddableDict(content=text) if text else None


def _readable(chunks: Iterator[Mapping[str, Any]]) -> Iterator[AddableDict]:
    readable = _ReadableText()
    for chunk in chunks:
        yield readable.chunk(chunk)
    closing = readable.closing()
    if closing is not None:
        yield closing


async def _areadable(chunks: AsyncIterator[Mapping[str, Any]]) -> AsyncIterator[AddableDict]:
    readable = _ReadableText()
    async for chunk in chunks:
        yield readable.chunk(chunk)
    closing = readable.closing()
    if closing is not None:
        yield closing


def with_readable_text(chain: Runnable) -> Runnable:
    """``chain`` (the RAG chain's output) whose chunks also carry ``content`` (module docstring).

    A streaming step: each chunk passes through as it arrives, so the answer still streams token by
    token with its sources first.
    """
    readable: Runnable = RunnableGenerator(_readable, _areadable, name="readable_text")
    return (chain | readable).with_types(input_type=chain.InputType, output_type=ReadableRagAnswer)
