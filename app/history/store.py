"""Chat history: what each user asked in each session, what was answered, and from which sources.

Every query is scoped by owner, so a session id alone never reaches another user's conversation.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from app.history.db import Database, iso, utcnow

TITLE_CHARS = 80


class HistoryStore:
    """Reads and writes conversations for one database."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self.t = db.tables

    async def recent(self, owner: str, session_id: str, limit: int = 12) -> list[dict[str, str]]:
        """The last ``limit`` messages of a session, oldest first, as {"role", "content"}."""
        await self.db.ready()
        m = self.t.messages
        query = (
            select(m.c.role, m.c.content)
            .where(m.c.owner == owner, m.c.session_id == session_id)
            .order_by(m.c.id.desc())
            .limit(limit)
        )
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [{"role": r.role, "content": r.content} for r in reversed(rows)]

    async def record_turn(
        self,
        owner: str,
        session_id: str,
        *,
        question: str,
        standalone_question: str | None,
        answer: str,
        sources: list[dict[str, Any]] | None,
    ) -> None:
        """Store one question and its answer (creating the session on its first turn)."""
        await self.db.ready()
        for attempt in range(2):
            try:
                await self._record(
                    owner, session_id, question, standalone_question, answer, sources
                )
                return
            except IntegrityError:
                # Two first turns of one new session raced to create it: the retry updates it.
                if attempt:
                    raise

    async def _record(
        self,
        owner: str,
        session_id: str,
        question: str,
        standalone: str | None,
        answer: str,
        sources: list[dict[str, Any]] | None,
    ) -> None:
        s, m = self.t.sessions, self.t.messages
        now = utcnow()
        async with self.db.engine.begin() as conn:
            touched = await conn.execute(
                update(s).where(s.c.owner == owner, s.c.id == session_id).values(updated_at=now)
            )
            if touched.rowcount == 0:
                title = " ".join(question.split())[:TITLE_CHARS]
                await conn.execute(
                    insert(s).values(
                        owner=owner, id=session_id, title=title, created_at=now, updated_at=now
                    )
                )
            common = {"owner": owner, "session_id": session_id, "created_at": now}
            await conn.execute(
                insert(m),
                [
                    {
                        **common,
                        "role": "user",
                        "content": question,
                        "standalone_question": standalone if standalone != question else None,
                        "sources": None,
                    },
                    {
                        **common,
                        "role": "assistant",
                        "content": answer,
                        "standalone_question": None,
                        "sources": sources or [],
                    },
                ],
            )

    async def list_sessions(self, owner: str, limit: int = 100) -> list[dict[str, Any]]:
        """The owner's sessions, most recently used first, with their message counts."""
        await self.db.ready()
        s, m = self.t.sessions, self.t.messages
        counts = (
            select(m.c.session_id, func.count().label("n"))
            .where(m.c.owner == owner)
            .group_by(m.c.session_id)
            .subquery()
        )
        query = (
            select(s.c.id, s.c.title, s.c.created_at, s.c.updated_at, counts.c.n)
            .join(counts, counts.c.session_id == s.c.id, isouter=True)
            .where(s.c.owner == owner)
            .order_by(s.c.updated_at.desc(), s.c.id)
            .limit(limit)
        )
        async with self.db.engine.connect() as conn:
            rows = (await conn.execute(query)).all()
        return [
            {
                "session_id": r.id,
                "title": r.title,
                "created_at": iso(r.created_at),
                "updated_at": iso(r.updated_at),
                "messages": int(r.n or 0),
            }
            for r in rows
        ]

    async def get_session(self, owner: str, session_id: str) -> dict[str, Any] | None:
        """One session with all its messages, or None if the owner has no such session."""
        await self.db.ready()
        s, m = self.t.sessions, self.t.messages
        async with self.db.engine.connect() as conn:
            head = (
                await conn.execute(select(s).where(s.c.owner == owner, s.c.id == session_id))
            ).first()
            if head is None:
                return None
            rows = (
                await conn.execute(
                    select(m)
                    .where(m.c.owner == owner, m.c.session_id == session_id)
                    .order_by(m.c.id)
                )
            ).all()
        messages = []
        for r in rows:
            item: dict[str, Any] = {
                "role": r.role,
                "content": r.content,
                "created_at": iso(r.created_at),
            }
            if r.role == "user" and r.standalone_question:
                item["standalone_question"] = r.standalone_question
            if r.role == "assistant":
                item["sources"] = r.sources or []
            messages.append(item)
        return {
            "session_id": head.id,
            "title": head.title,
            "created_at": iso(head.created_at),
            "updated_at": iso(head.updated_at),
            "messages": messages,
        }

    async def delete_session(self, owner: str, session_id: str) -> bool:
        """Delete a session and its messages; False if the owner had no such session."""
        await self.db.ready()
        s, m = self.t.sessions, self.t.messages
        async with self.db.engine.begin() as conn:
            await conn.execute(delete(m).where(m.c.owner == owner, m.c.session_id == session_id))
            gone = await conn.execute(delete(s).where(s.c.owner == owner, s.c.id == session_id))
        return bool(gone.rowcount)
