"""Conversations on /chat and /chat/stream: history in, follow-ups condensed, turns stored.

:meth:`Conversations.start` loads the session's recent messages and has the chat model rewrite a
follow-up into a standalone question (rag_chain's condenser) before retrieval; :meth:`finish`
stores the question, the answer and its sources. Without ``session_id`` nothing is read or stored.
Sessions are the caller's: the owner comes from :func:`app.security.auth.owner_of`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from langchain_core.runnables import Runnable, RunnableConfig
from sqlalchemy.exc import SQLAlchemyError

from app.errors.backends import backend_error, history_unavailable
from app.history.store import HistoryStore
from app.progress import ModelWait

log = logging.getLogger("rag.conversations")

#: Past messages read for condensing a follow-up (the condenser keeps the last few of them).
HISTORY_LIMIT = 12


@dataclass(frozen=True)
class Turn:
    """One question on its way through /chat: as asked, and as the grounded chain will see it."""

    owner: str
    session_id: str | None
    question: str
    #: The follow-up rewritten into a standalone question (None outside a session).
    standalone: str | None = None

    @property
    def chain_input(self) -> dict[str, str]:
        """What the grounded chain is asked: the standalone form when there is one."""
        return {"question": self.standalone or self.question}


class Conversations:
    """Reads a session's history before an answer and records the turn after it."""

    def __init__(self, history: HistoryStore, condense: Runnable, wait: ModelWait) -> None:
        self.history = history
        self.condense = condense
        self.wait = wait

    async def start(
        self, owner: str, session_id: str | None, question: str, config: RunnableConfig
    ) -> Turn:
        """The turn for ``question``: condensed against the session's history when there is one."""
        if session_id is None:
            return Turn(owner, None, question)
        try:
            past = await self.history.recent(owner, session_id, HISTORY_LIMIT)
        except (SQLAlchemyError, OSError) as exc:
            raise history_unavailable(exc) from None
        return await self.condensed(owner, session_id, question, past, config)

    async def condensed(
        self,
        owner: str,
        session_id: str | None,
        question: str,
        past: list[dict[str, str]],
        config: RunnableConfig,
    ) -> Turn:
        """The turn for ``question`` condensed against ``past`` (stored, or held by the client as
        on /v1); the model is called only when there is history."""
        try:
            # The same progress-aware wait as the answer itself: a rewrite queued behind other
            # generations of the shared model is not a stalled backend.
            standalone = await self.wait(
                self.condense.ainvoke({"question": question, "history": past}, config)
            )
        except Exception as exc:
            raise backend_error(exc, self.wait.timeout) from None
        if standalone != question:
            log.info("follow-up rewritten: %r -> %r", question, standalone)
        return Turn(owner, session_id, question, str(standalone))

    async def finish(self, turn: Turn, result: dict[str, Any]) -> None:
        """Store the turn of a session (a storage failure is logged: the answer was already given)."""
        if turn.session_id is None:
            return
        try:
            await self.history.record_turn(
                turn.owner,
                turn.session_id,
                question=turn.question,
                standalone_question=turn.standalone,
                answer=str(result.get("answer", "")),
                sources=result.get("sources"),
            )
        except (SQLAlchemyError, OSError) as exc:
            log.error("could not store a turn of session %r: %s", turn.session_id, exc)
