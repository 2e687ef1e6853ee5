"""Checks on LangServe request bodies that LangServe itself does not make.

LangServe validates ``input`` against the chain's type, but it ignores unknown top-level fields,
accepts any number of batch inputs and any question length, and answers a non-JSON body with an
error our handlers cannot describe. This dependency runs before LangServe's handler (on the same
``Request``, whose parsed body is cached) and turns each of those into a clear 4xx in our shape.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import Request
from rag_core.settings import Settings

from app.errors.api import ApiError
from app.langserve.client_fields import accepted_fields
from app.langserve.config_guard import checked_client_config

#: Top-level body fields each LangServe endpoint accepts: every field LangServe's own clients send
#: (Python and LangChain.js ``RemoteRunnable``, the playground), and nothing else.
ALLOWED_FIELDS: dict[str, frozenset[str]] = accepted_fields()
_JSON_TYPES = ("application/json", "text/json")


def require_json(request: Request) -> None:
    """Reject a body sent with a non-JSON content type (415) instead of failing to parse it."""
    if request.method not in ("POST", "PUT", "PATCH"):
        return
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type and not (content_type in _JSON_TYPES or content_type.endswith("+json")):
        raise ApiError(415, f"send the body as application/json, not {content_type}")


def _endpoint(path: str) -> str | None:
    last = path.rstrip("/").rsplit("/", 1)[-1]
    return last if last in ALLOWED_FIELDS else None


def _text_lengths(value: Any) -> list[int]:
    """Lengths of the user texts in one input: a question, or the contents of chat messages."""
    if isinstance(value, str):
        return [len(value)]
    if not isinstance(value, dict):
        return []
    lengths = []
    if isinstance(value.get("question"), str):
        lengths.append(len(value["question"]))
    for message in value.get("messages") or []:
        if isinstance(message, dict) and isinstance(message.get("content"), str):
            lengths.append(len(message["content"]))
    return lengths


_MESSAGE_TYPES = {"human", "ai", "system"}
#: "runId" is what the LangServe chat playground attaches to the AI turns it sends back.
_MESSAGE_EXTRAS = {"id", "name", "example", "additional_kwargs", "response_metadata", "runId"}
_EMPTY_LISTS = {"tool_calls", "invalid_tool_calls"}


def _check_messages(value: Any) -> None:
    """The chat chain's contract, checked up front: text messages ending with a human question."""
    messages = value.get("messages") if isinstance(value, dict) else None
    if not isinstance(messages, list) or not messages:
        raise ApiError(422, 'input must be {"messages": [...]} ending with a human message')
    for message in messages:
        kind = message.get("type") if isinstance(message, dict) else None
        if not isinstance(kind, str) or kind not in _MESSAGE_TYPES:
            raise ApiError(422, "each message must be an object with type human, ai or system")
        if not isinstance(message.get("content"), str):
            raise ApiError(422, "each message needs a text content")
        extra = set(message) - {"type", "content"} - _MESSAGE_EXTRAS - _EMPTY_LISTS
        if extra or any(message.get(key) for key in _EMPTY_LISTS):
            raise ApiError(422, "messages may only carry type, content, id and name")
    last = messages[-1]
    if last["type"] != "human" or not last["content"].strip():
        raise ApiError(422, "the last message must be a non-empty human message (the question)")


def _check_config(body: dict[str, Any], endpoint: str, settings: Settings) -> None:
    if "config" not in body:
        return
    config = body["config"]
    configs = config if endpoint == "batch" and isinstance(config, list) else [config]
    if not all(isinstance(item, dict) for item in configs):
        raise ApiError(422, "config must be a JSON object (or, for /batch, a list of them)")
    # The same rule the per-request config modifier applies, but on the JSON as sent: LangServe
    # validates against the declared schema first and would coerce `true` or "3" into an int.
    for item in configs:
        checked_client_config(item, settings)


def _check_body(body: Any, endpoint: str, settings: Settings, *, chat: bool) -> None:
    if not isinstance(body, dict):
        raise ApiError(
            422, f"the body must be a JSON object with {sorted(ALLOWED_FIELDS[endpoint])}"
        )
    unknown = sorted(set(body) - ALLOWED_FIELDS[endpoint])
    if unknown:
        raise ApiError(
            422,
            f"unknown field(s) {unknown}; /{endpoint} accepts {sorted(ALLOWED_FIELDS[endpoint])}",
        )
    _check_config(body, endpoint, settings)
    if endpoint == "batch":
        inputs = body.get("inputs")
        if not isinstance(inputs, list):
            raise ApiError(422, "inputs must be a list")
        if len(inputs) > settings.max_batch_size:
            raise ApiError(
                413,
                f"batch of {len(inputs)} inputs; the limit is {settings.max_batch_size} "
                "(RAG_MAX_BATCH_SIZE)",
            )
    else:
        inputs = [body.get("input")]
    for value in inputs:
        if chat:
            _check_messages(value)
        longest = max(_text_lengths(value), default=0)
        if longest > settings.max_question_chars:
            raise ApiError(
                413,
                f"question is {longest} characters; the limit is {settings.max_question_chars} "
                "(RAG_MAX_QUESTION_CHARS)",
            )


def langserve_body_guard(
    settings: Settings, *, chat: bool = False
) -> Callable[[Request], Coroutine[Any, Any, None]]:
    """A FastAPI dependency for LangServe routes enforcing JSON, known fields and size limits.

    ``chat=True`` also checks the chat chain's input (messages ending with a human question).
    """

    async def guard(request: Request) -> None:
        endpoint = _endpoint(request.url.path)
        if request.method != "POST" or endpoint is None:
            return
        require_json(request)
        try:
            body = await request.json()
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise ApiError(422, "the body is not valid JSON") from None
        _check_body(body, endpoint, settings, chat=chat)

    return guard
