"""Seed-compatible ``POST /chat`` and ``POST /chat/stream`` over the same chain as ``/rag``.

``/chat/stream`` speaks Server-Sent Events: ``sources`` (JSON list) first, then ``token`` events
(JSON strings) as the model produces them, then ``done`` (``{"answer": full text, "context": how it
was made}``: answer mode, refusal and its reason, supports; the web app shows them), or ``error``
(``{"message"}``) and the end of the stream. With ``Accept: text/plain`` it streams only the answer
text, as the seed tutorial's ``curl -N`` showed.

The events go out through sse-starlette (already LangServe's), with ``\n`` line ends so the bytes
are what clients always got; it also sends a comment line every 15 s while a queued answer waits
for the model, which clients ignore and proxies take as a sign of life.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field
from rag_core.settings import Settings
from sse_starlette.sse import EventSourceResponse, ServerSentEvent
from starlette.responses import Response

from app.answers import SSE_SEP, answer_events
from app.errors.api import ApiError
from app.errors.backends import backend_error
from app.history.conversations import Turn
from app.langserve.publish import server_config
from app.runtime import Runtime, RuntimeDep
from app.security.auth import owner_of

log = logging.getLogger("rag.chat")

router = APIRouter(tags=["chat"])


class ChatRequest(BaseModel):
    """Body of /chat and /chat/stream."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., min_length=1, description="The question about your documents.")
    session_id: str | None = Field(
        None,
        min_length=1,
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]+$",
        description="Conversation id: follow-ups are understood from this session's history.",
    )


class ChatResponse(BaseModel):
    """Body of a /chat answer."""

    answer: str
    sources: list[dict[str, Any]]
    context: dict[str, Any] | None = None
    session_id: str | None = None


def _check(settings: Settings, body: ChatRequest) -> str:
    question = body.question.strip()
    if not question:
        raise ApiError(422, "question must not be blank")
    if len(question) > settings.max_question_chars:
        raise ApiError(
            413,
            f"question is {len(question)} characters; the limit is "
            f"{settings.max_question_chars} (RAG_MAX_QUESTION_CHARS)",
        )
    return question


async def _start(runtime: Runtime, request: Request, body: ChatRequest) -> Turn:
    """The checked question as a turn of its conversation (condensed when it is a follow-up)."""
    question = _check(runtime.settings, body)
    return await runtime.conversations.start(
        owner_of(request), body.session_id, question, server_config(request)
    )


def _sse(event: str, data: Any) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(data, ensure_ascii=False), event=event, sep=SSE_SEP)


@router.post("/chat", response_model=ChatResponse)
async def chat(body: ChatRequest, request: Request, runtime: RuntimeDep) -> ChatResponse:
    """Answer a question (waits for the whole answer)."""
    turn = await _start(runtime, request, body)
    try:
        result = await runtime.wait(runtime.chain.ainvoke(turn.chain_input, server_config(request)))
    except Exception as exc:
        error = backend_error(exc, runtime.wait.timeout)
        log.warning("/chat failed: %s", error.message)
        raise error from None
    await runtime.conversations.finish(turn, result)
    return ChatResponse(
        answer=result.get("answer", ""),
        sources=result.get("sources", []),
        context=result.get("context"),
        session_id=body.session_id,
    )


@router.post("/chat/stream")
async def chat_stream(body: ChatRequest, request: Request, runtime: RuntimeDep) -> Response:
    """Stream the answer as SSE (default) or as plain text (``Accept: text/plain``)."""
    turn = await _start(runtime, request, body)
    plain = "text/plain" in request.headers.get("accept", "") and "text/event-stream" not in (
        request.headers.get("accept", "")
    )
    timeout = runtime.wait.timeout

    async def sse() -> AsyncIterator[ServerSentEvent]:
        answer: list[str] = []
        result: dict[str, Any] = {}
        try:
            async for event, data in answer_events(runtime, request, turn):
                if event == "token":
                    answer.append(data)
                elif event == "context":
                    # verified mode sends the rest of the context (supports, dropped) at the end
                    result["context"] = {**result.get("context", {}), **data}
                    continue
                else:
                    result["sources"] = data
                yield _sse(event, data)
        except Exception as exc:
            error = backend_error(exc, timeout)
            log.warning("/chat/stream failed: %s", error.message)
            yield _sse("error", {"message": error.message, "error": error.code})
            return
        result["answer"] = "".join(answer)
        await runtime.conversations.finish(turn, result)
        done: dict[str, Any] = {"answer": result["answer"]}
        if "context" in result:
            done["context"] = result["context"]
        yield _sse("done", done)

    async def text() -> AsyncIterator[str]:
        answer: list[str] = []
        try:
            async for event, data in answer_events(runtime, request, turn):
                if event == "token":
                    answer.append(data)
                    yield data
        except Exception as exc:
            error = backend_error(exc, timeout)
            log.warning("/chat/stream failed: %s", error.message)
            yield f"\n[error] {error.message}\n"
            return
        await runtime.conversations.finish(turn, {"answer": "".join(answer)})

    if plain:
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(text(), media_type="text/plain; charset=utf-8", headers=headers)
    return EventSourceResponse(sse(), sep=SSE_SEP)
