"""The documents feature as the routes use it: check, stage, queue, list, delete.

Built once per server (:func:`app.runtime.build_runtime`) and reached through ``DocumentsDep``.
Owners are always the caller as the server identified them (``owner_of``): with auth off that is
the anonymous owner, so uploads stay private to the anonymous callers (the single user of their
own machine) and can never replace or delete the shared documents ingested with ``rag-ingest``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any

from fastapi import UploadFile
from rag_chain import RagResources
from rag_core.settings import Settings

from app.documents.catalog import DocumentCatalog
from app.documents.filenames import UnsafeName, safe_upload_name
from app.documents.jobs import JobStore
from app.documents.limits import UploadLimits
from app.documents.storage import UploadStorage
from app.documents.write_queue import IngestJob, WriteQueue
from app.documents.writer import ChildProcessWriter, IndexWriter
from app.errors.api import ApiError
from app.history.db import Database

log = logging.getLogger("rag.documents")


class DocumentService:
    """Uploads, jobs, listing and deletion of one owner's documents at a time."""

    def __init__(
        self,
        settings: Settings,
        resources: RagResources,
        database: Database,
        writer: IndexWriter | None = None,
    ) -> None:
        self.limits = UploadLimits.from_settings(settings)
        self.storage = UploadStorage(settings.uploads_dir)
        self.jobs = JobStore(database, settings.table_prefix)
        self.catalog = DocumentCatalog(settings, resources.reader.store)
        #: Tests may replace the writer before the server starts (an in-process fake).
        self.queue = WriteQueue(writer or ChildProcessWriter(settings), self.jobs, self.storage)

    async def open(self) -> None:
        """Fail jobs an earlier run of this server left unfinished, then start the writer."""
        abandoned = await self.jobs.fail_abandoned()
        if abandoned:
            log.warning("%d upload job(s) of a previous run marked failed", abandoned)
        self.queue.start()

    async def close(self) -> None:
        """Stop the writer (and its child) and release the record store."""
        await self.queue.stop()
        self.catalog.close()

    async def upload(self, owner: str, files: list[UploadFile]) -> str:
        """Check every file, stage them all, record and queue the job; returns its id.

        Nothing is written before every file has passed its checks.
        """
        self.limits.check_count(len(files))
        names = [self.limits.check_file(f.filename, f.size) for f in files]
        if len(set(names)) != len(names):
            raise ApiError(400, "two files of this request have the same name")
        job_id = await self.jobs.create(owner, names)
        try:
            staged = await asyncio.to_thread(self._stage_all, owner, job_id, files, names)
        except OSError as exc:
            self.storage.discard_job(owner, job_id)
            await self.jobs.set_status(job_id, "failed", f"could not store the upload: {exc}")
            raise ApiError(
                507, "the server could not store the upload", code="insufficient_storage"
            ) from None
        self.queue.submit(IngestJob(job_id, owner, staged))
        return job_id

    def _stage_all(
        self, owner: str, job_id: str, files: list[UploadFile], names: list[str]
    ) -> list[Path]:
        staged = []
        for upload, name in zip(files, names, strict=True):
            upload.file.seek(0)
            staged.append(self.storage.stage(owner, job_id, name, upload.file))
        return staged

    async def job(self, owner: str, job_id: str) -> dict[str, Any]:
        """The owner's job, or 404 (also for another owner's job: never reveal it exists)."""
        found = await self.jobs.get(owner, job_id)
        if found is None:
            raise ApiError(404, f"no upload job {job_id!r}")
        return found

    async def visible(self, owner: str) -> list[dict[str, Any]]:
        """The documents the owner's retrieval sees."""
        return await asyncio.to_thread(self.catalog.visible, owner)

    async def delete(self, owner: str, source: str) -> None:
        """Remove one of the owner's documents, or 404 (missing, shared or someone else's)."""
        try:
            safe = safe_upload_name(source) == source
        except UnsafeName:
            safe = False
        owned = await asyncio.to_thread(self.catalog.owns, owner, source)
        if not owned and not (safe and self.storage.has(owner, source)):
            raise ApiError(404, f"no document {source!r} of yours")
        await self.queue.delete(owner, source)
