"""``GET /v1/models`` and ``POST /v1/chat/completions``: OpenAI's protocol over the grounded chain.

One model is listed, ``RAG_API_MODEL_ID``: the whole service (retrieval, refusal rule, the
server's chat model) is the "model". A request naming another gets OpenAI's 404
``model_not_found``; nothing in a request can pick the server's chat model, prompt, collection or
tenant (the caller is the one its API key names, as on ``/chat``). The answer is the chain's, with
the refusal sentence when the documents do not hold it; ``sources`` (the list ``/chat`` returns)
is a top-level field and numbered citations end the text. Errors take OpenAI's shape
(:mod:`app.openai_api.errors`).
"""

from __future__ import annotations

import logging
import time
from typing import Any

from fastapi import APIRouter, Request
from langchain_core.runnables import RunnableConfig
from sse_starlette.sse import EventSourceResponse
from starlette.responses import Response

from app.answers import SSE_SEP
from app.errors.api import ApiError
from app.errors.backends import backend_error
from app.history.conversations import Turn
from app.langserve.publish import server_config
from app.openai_api.citations import citations_footer
from app.openai_api.conversation import read_conversation
from app.openai_api.errors import bad_request
from app.openai_api.schemas import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionRequest,
    Choice,
    ModelCard,
    ModelList,
    OpenAIError,
)
from app.openai_api.streaming import Completion, completion_events
from app.openai_api.usage import usage_of
from app.runtime import Runtime, RuntimeDep
from app.security.auth import owner_of

log = logging.getLogger("rag.openai")

#: Who "owns" the listed model, as OpenAI's model cards say.
OWNED_BY = "quill-rag"
#: ``created`` of the listed model: when this server process started serving it.
STARTED = int(time.time())

_ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIError, "description": description}
    for status, description in {
        400: "invalid request (OpenAI's error shape)",
        401: "missing or unknown API key",
        404: "unknown model (code model_not_found)",
        429: "rate limited",
        503: "a backend (model, index) is unavailable",
        504: "the model did not answer in time",
    }.items()
}

router = APIRouter(prefix="/v1", tags=["openai"], responses=_ERRORS)


def _card(runtime: Runtime) -> ModelCard:
    return ModelCard(id=runtime.settings.api_model_id, created=STARTED, owned_by=OWNED_BY)


def _model_not_found(model: str, runtime: Runtime) -> ApiError:
    return ApiError(
        404,
        f"The model `{model}` does not exist; this server serves "
        f"`{runtime.settings.api_model_id}` (GET /v1/models)",
        code="model_not_found",
        param="model",
    )


@router.get("/models", response_model=ModelList)
async def list_models(runtime: RuntimeDep) -> ModelList:
    """The one model this server answers as (clients list models before the first question)."""
    return ModelList(data=[_card(runtime)])


@router.get("/models/{model:path}", response_model=ModelCard)
async def retrieve_model(model: str, runtime: RuntimeDep) -> ModelCard:
    """One model's card, or OpenAI's 404 ``model_not_found``."""
    if model != runtime.settings.api_model_id:
        raise _model_not_found(model, runtime)
    return _card(runtime)


async def _start(runtime: Runtime, request: Request, body: ChatCompletionRequest) -> Turn:
    """The checked request as a turn: the last user message, condensed against the turns before."""
    if body.model != runtime.settings.api_model_id:
        raise _model_not_found(body.model, runtime)
    if body.n not in (None, 1):
        raise bad_request(f"only n=1 is supported, got n={body.n}", "n")
    conversation = read_conversation(body.messages, runtime.settings)
    return await runtime.conversations.condensed(
        owner_of(request), None, conversation.question, conversation.history, server_config(request)
    )


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {}}, "description": "with stream: true"}},
)
async def chat_completions(
    body: ChatCompletionRequest, request: Request, runtime: RuntimeDep
) -> Response | ChatCompletion:
    """Answer the conversation's last user message, whole or streamed (``stream: true``)."""
    turn = await _start(runtime, request, body)
    completion = Completion(model=runtime.settings.api_model_id)
    if body.stream:
        events = completion_events(runtime, request, turn, completion, body.include_usage)
        return EventSourceResponse(events, sep=SSE_SEP)
    return await _answer(runtime, turn, completion, server_config(request))


async def _answer(
    runtime: Runtime, turn: Turn, completion: Completion, config: RunnableConfig
) -> ChatCompletion:
    """The whole answer as one ``chat.completion``."""
    try:
        result = await runtime.wait(runtime.chain.ainvoke(turn.chain_input, config))
    except Exception as exc:
        error = backend_error(exc, runtime.wait.timeout)
        log.warning("/v1/chat/completions failed: %s", error.message)
        raise error from None
    sources = list(result.get("sources") or [])
    text = str(result.get("answer", "")) + citations_footer(sources)
    usage = await usage_of(
        runtime.resources, turn.chain_input["question"], result.get("context"), text
    )
    return ChatCompletion(
        id=completion.id,
        created=completion.created,
        model=completion.model,
        choices=[Choice(message=AssistantMessage(content=text))],
        usage=usage,
        sources=sources,
    )
