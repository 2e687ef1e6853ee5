"""One writer at a time: upload jobs and deletions run in arrival order, each in its own child.

Serial on purpose: an embedded Chroma store has one writer at a time, a job embeds on one core at
low priority, and a deletion must not race an ingest of the same file. The queue lives in the
server process that accepted the work; the job rows it updates are shared (see ``jobs``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from app.documents.jobs import JobStore
from app.documents.storage import UploadStorage
from app.documents.writer import IndexWriter, WriterFailed

log = logging.getLogger("rag.documents")


@dataclass(frozen=True)
class IngestJob:
    """Staged files of one owner, waiting to be ingested."""

    job_id: str
    owner: str
    files: list[Path]


class WriteQueue:
    """Runs :class:`IngestJob` s and deletions one after the other on a background task."""

    def __init__(self, writer: IndexWriter, jobs: JobStore, storage: UploadStorage) -> None:
        self.writer = writer
        self.jobs = jobs
        self.storage = storage
        self._queue: asyncio.Queue[Callable[[], Awaitable[None]]] | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start the background task in the running event loop.

        An app's lifespan may be entered again from another event loop (test clients do): the
        queue and its task then belong to the loop that entered last.
        """
        loop = asyncio.get_running_loop()
        if self._task is None or self._task.get_loop() is not loop:
            self._queue = asyncio.Queue()
            self._task = loop.create_task(self._work(self._queue), name="document-writer")

    async def stop(self) -> None:
        """Stop the task and the child it runs; unfinished jobs fail at the next start."""
        task, self._task = self._task, None
        if task is None:
            return
        await self.writer.close()
        if task.get_loop() is asyncio.get_running_loop():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        elif not task.get_loop().is_closed():
            task.get_loop().call_soon_threadsafe(task.cancel)

    def _put(self, operation: Callable[[], Awaitable[None]]) -> None:
        if self._queue is None:
            raise RuntimeError("the document writer is not running (server not started)")
        self._queue.put_nowait(operation)

    def submit(self, job: IngestJob) -> None:
        """Queue a job whose row and staged files exist."""
        self._put(lambda: self._ingest(job))

    async def delete(self, owner: str, source: str) -> int:
        """Remove a document after the work queued before it; returns the chunks removed."""
        done: asyncio.Future[int] = asyncio.get_running_loop().create_future()

        async def run() -> None:
            try:
                removed = await self.writer.delete(owner, source)
                self.storage.remove(owner, source)
            except Exception as exc:
                done.set_exception(exc)
            else:
                done.set_result(removed)

        self._put(run)
        return await done

    async def _work(self, queue: asyncio.Queue[Callable[[], Awaitable[None]]]) -> None:
        while True:
            operation = await queue.get()
            try:
                await operation()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in one operation must not stop the queue
                log.exception("document write failed")

    async def _ingest(self, job: IngestJob) -> None:
        """Run one job: each file's outcome is recorded as the child reports it."""
        try:
            await self.jobs.set_status(job.job_id, "running")
            done = failed = 0
            # aclosing: whatever stops this loop also stops the child at once.
            async with contextlib.aclosing(self.writer.ingest(job.owner, job.files)) as events:
                async for event in events:
                    if event.get("event") != "file":
                        continue
                    name = str(event.get("name"))
                    outcome = {k: v for k, v in event.items() if k not in ("event", "name")}
                    if outcome.get("status") == "done":
                        self.storage.commit(job.owner, job.job_id, name)
                        done += 1
                    else:
                        failed += 1
                    await self.jobs.record_file(job.job_id, name, outcome)
            if done == 0 and failed == 0:
                raise WriterFailed("the ingest process reported no file")
            await self.jobs.set_status(
                job.job_id, "done" if done else "failed", None if done else "every file failed"
            )
        except (WriterFailed, OSError, SQLAlchemyError) as exc:
            log.error("upload job %s failed: %s", job.job_id, exc)
            try:
                await self.jobs.set_status(job.job_id, "failed", str(exc)[:2000])
            except SQLAlchemyError:
                log.exception("could not record the failure of job %s", job.job_id)
        finally:
            self.storage.discard_job(job.owner, job.job_id)
