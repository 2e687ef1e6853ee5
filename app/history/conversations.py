"""Conversations on /chat and /chat/stream: history in, follow-ups condensed, turns stored.

:func:`install` is the server extension: it opens the history database, adds ``/sessions`` and plugs
two hooks into the chat routes. ``prepare`` loads the session's recent messages and has the chat
model rewrite a follow-up into a standalone question (rag_chain.conversation) before retrieval;
``finish`` stores the question, the answer and its sources. Without ``session_id`` nothing is read
or stored. Sessions are the caller's: see :mod:`app.middleware.access` for who the caller is.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fastapi import FastAPI, Request
from langchain_core.runnables import Runnable, RunnableConfig
from rag_chain.conversation import make_condense_question
from sqlalchemy.exc import SQLAlchemyError

from app.errors.api import ApiError
from app.errors.backends import backend_error
from app.history.db import shared_database
from app.history.store import HistoryStore
from app.runtime import Runtime, get_runtime
from app.security.auth import ANONYMOUS

log = logging.getLogger("rag.conversations")

#: Past messages read for condensing a follow-up (the condenser keeps the last few of them).
HISTORY_LIMIT = 12
_STANDALONE = "rag_standalone_question"


def owner_of(request: Request) -> str:
    """Whose conversations these are: the authenticated user, or the shared anonymous owner."""
    return Runtime.user_of(request) or ANONYMOUS


def history_of(request: Request) -> HistoryStore:
    """The history store installed on this app."""
    return get_runtime(request).extensions["history"]  # type: ignore[no-any-return]


def history_unavailable(exc: Exception) -> ApiError:
    """The 503 a client gets when the history database fails (the cause goes to the log)."""
    log.error("history database error: %s", exc)
    return ApiError(503, "the history database is unavailable; try again shortly")


async def prepare(
    runtime: Runtime, request: Request, question: str, session_id: str | None
) -> tuple[Runnable, Any, RunnableConfig]:
    """The grounded chain on the standalone form of ``question`` given the session's history."""
    config = runtime.request_config(request)
    if session_id is None:
        return runtime.chain, {"question": question}, config
    history: HistoryStore = runtime.extensions["history"]
    try:
        past = await history.recent(owner_of(request), session_id, HISTORY_LIMIT)
    except (SQLAlchemyError, OSError) as exc:
        raise history_unavailable(exc) from None
    condense: Runnable = runtime.extensions["condense"]
    timeout = runtime.settings.llm_timeout
    try:
        standalone = await asyncio.wait_for(
            condense.ainvoke({"question": question, "history": past}, config), timeout=timeout
        )
    except Exception as exc:
        raise backend_error(exc, timeout) from None
    if standalone != question:
        log.info("follow-up rewritten: %r -> %r", question, standalone)
    setattr(request.state, _STANDALONE, standalone)
    return runtime.chain, {"question": standalone}, config


async def finish(
    runtime: Runtime,
    request: Request,
    session_id: str | None,
    question: str,
    result: dict[str, Any],
) -> None:
    """Store the turn of a session (a storage failure is logged: the answer was already given)."""
    if session_id is None:
        return
    history: HistoryStore = runtime.extensions["history"]
    try:
        await history.record_turn(
            owner_of(request),
            session_id,
            question=question,
            standalone_question=getattr(request.state, _STANDALONE, None),
            answer=str(result.get("answer", "")),
            sources=result.get("sources"),
        )
    except (SQLAlchemyError, OSError) as exc:
        log.error("could not store a turn of session %r: %s", session_id, exc)


def install(app: FastAPI, runtime: Runtime) -> None:
    """Server extension: session history on /chat and /chat/stream, and the /sessions routes."""
    from app.routes import sessions

    runtime.extensions.update(
        history=HistoryStore(shared_database(runtime)),
        condense=make_condense_question(lambda: runtime.resources),
        prepare=prepare,
        finish=finish,
    )
    app.include_router(sessions.router)
