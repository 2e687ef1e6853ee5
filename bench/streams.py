"""Streaming clients that time an answer: when the request left, the first and the last token.

One ``StreamTiming`` shape for every subject (raw llama.cpp, ``/rag/stream``, ``/chat/stream``, the
naive app), so their figures are computed by the same code. Tokens are counted by re-tokenizing the
answer text with the model's tokenizer (``count``), because HTTP chunks need not be one token each.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import httpx
from httpx_sse import EventSource


@dataclass
class StreamTiming:
    """Clock readings (``time.perf_counter``) of one streamed answer, and its text."""

    started: float
    first: float | None = None
    last: float | None = None
    pieces: list[str] = field(default_factory=list)
    error: str | None = None

    def piece(self, text: str) -> None:
        """Record an answer piece arriving now."""
        if not text:
            return
        now = time.perf_counter()
        if self.first is None:
            self.first = now
        self.last = now
        self.pieces.append(text)

    @property
    def text(self) -> str:
        """The whole answer."""
        return "".join(self.pieces)

    @property
    def ttft(self) -> float | None:
        """Seconds from sending the request to the first answer token."""
        return None if self.first is None else self.first - self.started

    def tokens_per_second(self, count: Callable[[str], int]) -> float | None:
        """Answer tokens after the first, over the time from first to last token."""
        if self.first is None or self.last is None or self.last <= self.first:
            return None
        return max(count(self.text) - 1, 1) / (self.last - self.first)


def _sse_events(response: httpx.Response) -> Iterator[tuple[str, str]]:
    """Yield (event, data) pairs of a Server-Sent Events response as they arrive (httpx-sse)."""
    for sse in EventSource(response).iter_sse():
        yield sse.event, sse.data


def stream_rag(client: httpx.Client, url: str, question: str) -> StreamTiming:
    """POST /rag/stream (LangServe): ``data`` events carry ``{"answer": piece}`` after the sources."""
    timing = StreamTiming(time.perf_counter())
    body = {"input": {"question": question}}
    with client.stream("POST", f"{url}/rag/stream", json=body) as response:
        response.raise_for_status()
        for event, data in _sse_events(response):
            if event == "data":
                chunk = json.loads(data)
                if isinstance(chunk, dict):
                    timing.piece(chunk.get("answer") or "")
            elif event == "error":
                timing.error = data
    return timing


def stream_chat(client: httpx.Client, url: str, question: str) -> StreamTiming:
    """POST /chat/stream (SSE): ``token`` events carry JSON strings."""
    timing = StreamTiming(time.perf_counter())
    with client.stream("POST", f"{url}/chat/stream", json={"question": question}) as response:
        response.raise_for_status()
        for event, data in _sse_events(response):
            if event == "token":
                timing.piece(json.loads(data))
            elif event == "error":
                timing.error = data
    return timing


def stream_plain(client: httpx.Client, url: str, question: str) -> StreamTiming:
    """POST /chat/stream of the naive app: the body is the answer text, streamed."""
    timing = StreamTiming(time.perf_counter())
    with client.stream("POST", f"{url}/chat/stream", json={"question": question}) as response:
        response.raise_for_status()
        for text in response.iter_text():
            timing.piece(text)
    return timing
