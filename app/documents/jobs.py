"""Upload jobs, recorded in the history database so any server replica sharing it can answer a poll.

One row per ``POST /documents``: its owner, status (``queued`` → ``running`` → ``done`` or
``failed``) and one entry per file (``queued``, ``done`` with its chunk counts, or ``failed`` with
the reason). The table is declared on the history database's metadata (prefix
``RAG_TABLE_PREFIX``), so it is created with the others on first start. Jobs are always read with
their owner: another user's job id answers like one that never existed.
"""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any, Literal

from sqlalchemy import JSON, Column, DateTime, Index, String, Table, Text, insert, select, update

from app.history.db import Database, iso, utcnow
from app.history.models import OWNER_LENGTH

JobStatus = Literal["queued", "running", "done", "failed"]
FileStatus = Literal["queued", "done", "failed"]
#: Identifies this server process in a job row: host, pid and a token of this start (a container's
#: server is often pid 1 on every start: the token tells a previous incarnation from this one).
RUNNER = f"{socket.gethostname()[:90]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _declare(database: Database, prefix: str) -> Table:
    name = f"{prefix}ingest_jobs"
    metadata = database.tables.metadata
    if name in metadata.tables:
        return metadata.tables[name]
    return Table(
        name,
        metadata,
        Column("id", String(32), primary_key=True),
        Column("owner", String(OWNER_LENGTH), nullable=False),
        Column("status", String(16), nullable=False),
        Column("files", JSON, nullable=False),
        Column("error", Text, nullable=True),
        Column("runner", String(128), nullable=False),
        Column("created_at", DateTime(), nullable=False),
        Column("updated_at", DateTime(), nullable=False),
        Index(f"{prefix}ingest_jobs_by_owner", "owner", "created_at"),
    )


class JobStore:
    """Create, advance and read upload jobs (declare before the database creates its schema)."""

    def __init__(self, database: Database, prefix: str) -> None:
        self.db = database
        self.t = _declare(database, prefix)

    async def create(self, owner: str, names: list[str]) -> str:
        """A new queued job for ``names``; returns its id."""
        await self.db.ready()
        job_id = uuid.uuid4().hex
        now = utcnow()
        files = [{"name": name, "status": "queued"} for name in names]
        async with self.db.engine.begin() as conn:
            await conn.execute(
                insert(self.t).values(
                    id=job_id,
                    owner=owner,
                    status="queued",
                    files=files,
                    runner=RUNNER,
                    created_at=now,
                    updated_at=now,
                )
            )
        return job_id

    async def get(self, owner: str, job_id: str) -> dict[str, Any] | None:
        """The job as clients see it, or None (unknown id, or another owner's job)."""
        await self.db.ready()
        query = select(self.t).where(self.t.c.id == job_id, self.t.c.owner == owner)
        async with self.db.engine.connect() as conn:
            row = (await conn.execute(query)).first()
        return None if row is None else describe(row._mapping)

    async def set_status(self, job_id: str, status: JobStatus, error: str | None = None) -> None:
        """Move the job to ``status`` (with the reason when it failed as a whole)."""
        async with self.db.engine.begin() as conn:
            await conn.execute(
                update(self.t)
                .where(self.t.c.id == job_id)
                .values(status=status, error=error, updated_at=utcnow())
            )

    async def record_file(self, job_id: str, name: str, outcome: dict[str, Any]) -> None:
        """Store one file's outcome (``status`` plus counts or ``error``); one writer per job."""
        async with self.db.engine.begin() as conn:
            files = (
                await conn.execute(select(self.t.c.files).where(self.t.c.id == job_id))
            ).scalar()
            updated = [
                {"name": name, **outcome} if item["name"] == name else item for item in files or []
            ]
            await conn.execute(
                update(self.t)
                .where(self.t.c.id == job_id)
                .values(files=updated, updated_at=utcnow())
            )

    async def fail_abandoned(self) -> int:
        """Fail the unfinished jobs of dead server processes on this host (they will never run).

        A job runs in the process that accepted it; after a restart its queue is gone. Jobs of
        other hosts are left alone: their replica may still be running them.
        """
        await self.db.ready()
        host = RUNNER.split(":", 1)[0]
        query = select(self.t.c.id, self.t.c.runner).where(
            self.t.c.status.in_(["queued", "running"]), self.t.c.runner.like(f"{host}:%")
        )
        async with self.db.engine.begin() as conn:
            rows = (await conn.execute(query)).all()
            dead = [row.id for row in rows if not _alive(row.runner)]
            if dead:
                await conn.execute(
                    update(self.t)
                    .where(self.t.c.id.in_(dead))
                    .values(
                        status="failed",
                        error="the server stopped before this job finished; upload the files again",
                        updated_at=utcnow(),
                    )
                )
        return len(dead)


def _alive(runner: str) -> bool:
    """Whether the server process that accepted a job (``host:pid:token``) still runs."""
    if runner == RUNNER:
        return True
    parts = runner.split(":")
    pid = parts[1] if len(parts) == 3 else ""
    if not pid.isdigit() or int(pid) == os.getpid():
        return False  # our pid with another token: an earlier start of this server
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def describe(row: Any) -> dict[str, Any]:
    """A job row in the public shape of ``GET /documents/jobs/{job_id}``."""
    files = list(row["files"] or [])
    finished = [f for f in files if f.get("status") in ("done", "failed")]
    return {
        "job_id": row["id"],
        "status": row["status"],
        "progress": {"done": len(finished), "total": len(files)},
        "files": files,
        "failures": [
            {"name": f["name"], "error": f.get("error", "")}
            for f in files
            if f.get("status") == "failed"
        ],
        "error": row["error"],
        "created_at": iso(row["created_at"]),
        "updated_at": iso(row["updated_at"]),
    }
