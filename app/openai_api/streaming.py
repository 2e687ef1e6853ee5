"""A streamed answer as OpenAI ``chat.completion.chunk`` events, sources first.

The order clients rely on: a first chunk with ``delta.role`` (and, by our product rule, the
top-level ``sources`` before any text), one chunk per piece of the answer, the numbered citations as
the last piece of text, a chunk with ``finish_reason: "stop"``, with ``stream_options.include_usage``
one more chunk with ``usage`` and no choices, then ``data: [DONE]``. A failure after the first
byte is a ``data: {"error": {...}}`` event (the ``openai`` client raises it as ``APIError``) and the
end of the stream. The events go out through sse-starlette, which cancels this generator when the
client hangs up; closing :func:`app.answers.answer_events` then stops the model.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

from fastapi import Request
from sse_starlette.sse import ServerSentEvent

from app.answers import SSE_SEP, answer_events
from app.errors.backends import backend_error
from app.history.conversations import Turn
from app.openai_api.citations import citations_footer
from app.openai_api.errors import openai_error_of
from app.openai_api.usage import usage_of
from app.runtime import Runtime

log = logging.getLogger("rag.openai")

DONE = "[DONE]"


@dataclass(frozen=True)
class Completion:
    """What every chunk (or the whole answer) of one completion repeats: id, time, model."""

    model: str
    id: str = field(default_factory=lambda: f"chatcmpl-{uuid.uuid4().hex}")
    created: int = field(default_factory=lambda: int(time.time()))

    def chunk(
        self,
        delta: dict[str, Any],
        finish_reason: str | None = None,
        *,
        with_usage: bool = False,
        **extra: Any,
    ) -> dict[str, Any]:
        """One ``chat.completion.chunk`` (``usage: null`` on each when usage was asked for)."""
        body: dict[str, Any] = {
            "id": self.id,
            "object": "chat.completion.chunk",
            "created": self.created,
            "model": self.model,
            "choices": [
                {"index": 0, "delta": delta, "finish_reason": finish_reason, "logprobs": None}
            ],
            **extra,
        }
        if with_usage:
            body["usage"] = None
        return body


def _event(data: dict[str, Any] | str) -> ServerSentEvent:
    text = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return ServerSentEvent(data=text, sep=SSE_SEP)


async def completion_events(
    runtime: Runtime, request: Request, turn: Turn, completion: Completion, include_usage: bool
) -> AsyncIterator[ServerSentEvent]:
    """The answer to ``turn`` as OpenAI chunks (see the module docstring for the order)."""
    sources: list[dict[str, Any]] | None = None
    context: dict[str, Any] = {}
    text: list[str] = []

    def opening(found: list[dict[str, Any]]) -> ServerSentEvent:
        delta = {"role": "assistant", "content": ""}
        return _event(completion.chunk(delta, with_usage=include_usage, sources=found))

    try:
        async for event, data in answer_events(runtime, request, turn):
            if event == "sources" and sources is None:
                sources = list(data)
                yield opening(sources)
            elif event == "context":
                context = {**context, **data}
            elif event == "token":
                if sources is None:  # the chain always sends sources first; never skip the role
                    sources = []
                    yield opening(sources)
                text.append(data)
                yield _event(completion.chunk({"content": data}, with_usage=include_usage))
    except Exception as exc:
        error = backend_error(exc, runtime.wait.timeout)
        log.warning("/v1/chat/completions stream failed: %s", error.message)
        yield _event(openai_error_of(error))
        return
    if sources is None:
        sources = []
        yield opening(sources)
    if footer := citations_footer(sources):
        text.append(footer)
        yield _event(completion.chunk({"content": footer}, with_usage=include_usage))
    yield _event(completion.chunk({}, "stop", with_usage=include_usage))
    if include_usage:
        usage = await usage_of(
            runtime.resources, turn.chain_input["question"], context, "".join(text)
        )
        body = {**completion.chunk({}), "choices": [], "usage": usage.model_dump()}
        yield _event(body)
    yield _event(DONE)
