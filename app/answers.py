"""The grounded chain's answer to one turn, streamed as events: shared by /chat/stream and /v1.

Every route that streams an answer needs the same three things: the request's server-side config
(the tenant), the model-wait policy per chunk (app.progress), and closing the chain's stream when
the client goes away, so the model stops generating. They live here once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from fastapi import Request

from app.history.conversations import Turn
from app.langserve.publish import server_config
from app.runtime import Runtime

#: Line end of streamed events: "\n", as /chat/stream has always sent (sse-starlette defaults to
#: CRLF); /v1 streams use it too.
SSE_SEP = "\n"


async def answer_events(
    runtime: Runtime, request: Request, turn: Turn
) -> AsyncIterator[tuple[str, Any]]:
    """The chain's stream as (event, data) pairs: ``sources``, ``context``, ``token``…

    A stall longer than the timeout is an error. The limit is per chunk (a slow model that keeps
    producing tokens is not cut off), and time spent queued behind other generations of the shared
    model does not count (see app.progress). Closing this generator (a client that hung up)
    closes the chain's stream, which cancels the generation.
    """
    iterator = runtime.chain.astream(turn.chain_input, server_config(request)).__aiter__()
    try:
        while True:
            try:
                chunk = await runtime.wait(iterator.__anext__())
            except StopAsyncIteration:
                return
            if "sources" in chunk:
                yield "sources", chunk["sources"]
            if "context" in chunk:
                yield "context", chunk["context"]
            if chunk.get("answer"):
                yield "token", chunk["answer"]
    finally:
        aclose = getattr(iterator, "aclose", None)
        if aclose is not None:
            await aclose()
