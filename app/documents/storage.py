"""Uploaded files on disk: ``RAG_DATA_DIR/uploads/<owner>/<name>``, staged until ingested.

A job's files are first written to ``<owner>/.staging/<job id>/`` (hidden, so never a document
name) and moved beside the owner's other documents only once the ingest has written their chunks;
a file that fails is deleted. So the owner folder holds exactly the uploads that are indexed, and a
failed re-upload never replaces the good file already there. Every path is built from a checked
owner and a checked base name, and verified to stay inside the owner's folder.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import BinaryIO

from rag_core.names import valid_owner

from app.documents.filenames import UnsafeName, safe_upload_name

STAGING = ".staging"
COPY_CHUNK_BYTES = 1024 * 1024


class UploadStorage:
    """Per-owner folders of uploaded documents under one root."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def owner_dir(self, owner: str) -> Path:
        """The owner's folder (owners are checked names: no separators, no leading dot)."""
        if not valid_owner(owner):
            raise ValueError(f"not a document owner: {owner!r}")
        return self.root / owner

    def staging_dir(self, owner: str, job_id: str) -> Path:
        """Where a job's files wait for the ingest (``job_id`` is made by the server)."""
        if not job_id.isalnum():
            raise ValueError(f"not a job id: {job_id!r}")
        return self.owner_dir(owner) / STAGING / job_id

    def stage(self, owner: str, job_id: str, name: str, content: BinaryIO) -> Path:
        """Copy one upload (a checked name) into the job's staging folder; returns its path."""
        target = self._inside(self.staging_dir(owner, job_id), name)
        target.parent.mkdir(parents=True, exist_ok=True)
        with target.open("xb") as out:  # "x": a name is staged once per job
            shutil.copyfileobj(content, out, COPY_CHUNK_BYTES)
        return target

    def commit(self, owner: str, job_id: str, name: str) -> None:
        """The file is indexed: move it (atomically) over any older upload of the same name."""
        staged = self._inside(self.staging_dir(owner, job_id), name)
        os.replace(staged, self._inside(self.owner_dir(owner), name))

    def discard_job(self, owner: str, job_id: str) -> None:
        """Remove what is left of a job's staging folder (its failed files)."""
        shutil.rmtree(self.staging_dir(owner, job_id), ignore_errors=True)

    def remove(self, owner: str, source: str) -> bool:
        """Delete the owner's uploaded file ``source``; False when there is none."""
        try:
            path = self._inside(self.owner_dir(owner), source)
        except UnsafeName:
            return False
        try:
            path.unlink()
        except FileNotFoundError:
            return False
        return True

    def has(self, owner: str, source: str) -> bool:
        """Whether the owner has an uploaded file named ``source``."""
        try:
            return self._inside(self.owner_dir(owner), source).is_file()
        except UnsafeName:
            return False

    @staticmethod
    def _inside(folder: Path, name: str) -> Path:
        """``folder / name`` for a name that is its own safe base name (UnsafeName otherwise)."""
        if safe_upload_name(name) != name:
            raise UnsafeName(f"{name!r} is not a plain file name")
        path = folder / name
        if path.resolve().parent != folder.resolve():
            raise UnsafeName(f"{name!r} leaves its folder")
        return path
