"""Timeouts that tell a stalled backend from a busy one.

The embedded model answers one question at a time, so with 16 clients the last one waits minutes
for its first token while the model is working flat out for the others. ``RAG_LLM_TIMEOUT`` is
meant to catch a backend that stopped making progress, not a queue: a wait only fails when neither
this request nor the shared model (``tokens_generated``, when the model exposes it) has advanced for
a whole timeout. Remote backends expose no counter, so for them it is a plain timeout.

:class:`ModelWait` is that policy bound to the server's model and ``RAG_LLM_TIMEOUT``: every wait on
the model in app/ (an answer, each streamed chunk, a follow-up's rewrite) goes through it, so a
queued request never times out on one route while surviving on another.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from rag_chain import RagResources

T = TypeVar("T")

Probe = Callable[[], int]


def model_progress_probe(chat_model: Any) -> Probe | None:
    """A counter that grows while the model generates for anyone, if the model has one."""
    if isinstance(getattr(chat_model, "tokens_generated", None), int):
        return lambda: int(chat_model.tokens_generated)
    return None


async def wait_with_progress(aw: Awaitable[T], timeout: float, probe: Probe | None) -> T:
    """Await ``aw``; raise TimeoutError only after ``timeout`` seconds with no progress at all."""
    task = asyncio.ensure_future(aw)
    last = probe() if probe else None
    try:
        while True:
            done, _ = await asyncio.wait({task}, timeout=timeout)
            if done:
                return task.result()
            current = probe() if probe else None
            if probe is None or current == last:
                raise TimeoutError
            last = current
    finally:
        if not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task


class ModelWait:
    """The server's one timeout for work on the model: ``RAG_LLM_TIMEOUT`` without progress."""

    def __init__(self, resources: RagResources, timeout: float) -> None:
        self.resources = resources
        self.timeout = timeout

    async def __call__(self, aw: Awaitable[T]) -> T:
        """Await ``aw``; TimeoutError once neither it nor the shared model made progress."""
        probe = model_progress_probe(self.resources.chat_model)
        return await wait_with_progress(aw, self.timeout, probe)
