"""``/sessions``: list, read and delete the caller's conversations (never anyone else's).

A session id is only meaningful together with its owner: asking for another user's session id
gives 404, exactly as for one that never existed.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path, Query, Response
from sqlalchemy.exc import SQLAlchemyError

from app.errors.api import ApiError
from app.errors.backends import history_unavailable
from app.runtime import HistoryDep
from app.security.auth import owner_of

T = TypeVar("T")

router = APIRouter(tags=["sessions"])


async def _db(call: Awaitable[T]) -> T:
    try:
        return await call
    except (SQLAlchemyError, OSError) as exc:
        raise history_unavailable(exc) from None


SessionId = Path(..., min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:-]+$")
#: The caller, as the access middleware identified them (the anonymous owner when auth is off).
Owner = Annotated[str, Depends(owner_of)]


@router.get("/sessions")
async def list_sessions(
    history: HistoryDep, owner: Owner, limit: int = Query(100, ge=1, le=1000)
) -> dict[str, list[dict[str, Any]]]:
    """The caller's sessions, most recently used first."""
    return {"sessions": await _db(history.list_sessions(owner, limit))}


@router.get("/sessions/{session_id}")
async def read_session(
    history: HistoryDep, owner: Owner, session_id: str = SessionId
) -> dict[str, Any]:
    """One session's messages, oldest first (assistant messages carry their sources)."""
    session = await _db(history.get_session(owner, session_id))
    if session is None:
        raise ApiError(404, f"no session {session_id!r}")
    return session


@router.delete("/sessions/{session_id}", status_code=204)
async def delete_session(
    history: HistoryDep, owner: Owner, session_id: str = SessionId
) -> Response:
    """Forget a session and all its messages."""
    if not await _db(history.delete_session(owner, session_id)):
        raise ApiError(404, f"no session {session_id!r}")
    return Response(status_code=204)
