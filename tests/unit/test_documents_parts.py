"""The parts behind /documents: file names, limits, ingest guards, the job store, the child's
settings, and the write queue's handling of a writer that fails."""

from __future__ import annotations

import io
import os
import zipfile
from collections.abc import AsyncGenerator
from pathlib import Path
from typing import Any

import pytest
from rag_core.names import DOCUMENT_EXTENSIONS
from rag_core.settings import SettingsError, load_settings

from app.documents.filenames import UnsafeName, safe_upload_name
from app.documents.jobs import RUNNER, JobStore
from app.documents.limits import UploadLimits
from app.documents.storage import UploadStorage
from app.documents.write_queue import IngestJob, WriteQueue
from app.documents.writer import WriterFailed, child_environment
from app.errors.api import ApiError
from app.history.db import Database
from ingest.guards import FileLimits, check_file
from ingest.loaders import LOADERS, LoadError


@pytest.mark.parametrize(
    ("raw", "safe"),
    [
        ("notes.md", "notes.md"),
        ("../../etc/notes.md", "notes.md"),
        ("C:\\Users\\me\\notes.md", "notes.md"),
        ("/abs/path/notes.md", "notes.md"),
        ("  spaced name.md ", "spaced name.md"),
        ("Cafe\u0301.md", "Café.md"),  # NFC: one spelling per name
    ],
)
def test_a_name_is_reduced_to_its_safe_base_name(raw: str, safe: str) -> None:
    assert safe_upload_name(raw) == safe


@pytest.mark.parametrize(
    "raw", [None, "", "..", "dir/", "a\\..", ".hidden.md", "a\nb.md", "a\u202eb.md", "é" * 101]
)
def test_a_name_that_cannot_be_made_safe_is_refused(raw: str | None) -> None:
    with pytest.raises(UnsafeName):
        safe_upload_name(raw)


def test_the_shared_extension_list_is_exactly_what_the_loaders_read() -> None:
    assert set(DOCUMENT_EXTENSIONS) == set(LOADERS)


def test_upload_extensions_must_be_readable(tmp_path: Path) -> None:
    limits = UploadLimits.from_settings(load_settings(data_dir=tmp_path, upload_extensions=[".MD"]))
    assert limits.extensions == (".md",)
    with pytest.raises(SettingsError, match="RAG_UPLOAD_EXTENSIONS"):
        UploadLimits.from_settings(load_settings(data_dir=tmp_path, upload_extensions=[".exe"]))


def test_limits_answer_413_415_400_in_our_shape(tmp_path: Path) -> None:
    limits = UploadLimits.from_settings(
        load_settings(data_dir=tmp_path, upload_max_files=2, upload_max_file_bytes=1024)
    )
    assert limits.check_file("a.md", 1024) == "a.md"
    for call, status in [
        (lambda: limits.check_count(3), 413),
        (lambda: limits.check_count(0), 400),
        (lambda: limits.check_file("a.md", 1025), 413),
        (lambda: limits.check_file("a.odt", 10), 415),
        (lambda: limits.check_file("..", 10), 400),
    ]:
        with pytest.raises(ApiError) as caught:
            call()
        assert caught.value.status == status
    assert limits.max_request_bytes == 2 * 1024 + 64 * 1024


def _docx_with(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, body in members.items():
            archive.writestr(name, body)
    return buffer.getvalue()


def test_docx_guard_refuses_total_size_and_ratio_but_passes_a_normal_file(tmp_path: Path) -> None:
    limits = FileLimits(max_pdf_pages=10, max_docx_bytes=3_000_000, max_zip_ratio=50)
    path = tmp_path / "a.docx"
    path.write_bytes(_docx_with({"word/document.xml": os.urandom(2_000_000)}))
    check_file(path, limits)  # 2 MB of incompressible data: ratio ~1, under the size limit
    path.write_bytes(_docx_with({f"p{i}.xml": os.urandom(1_000_000) for i in range(4)}))
    with pytest.raises(LoadError, match="RAG_INGEST_MAX_DOCX_BYTES"):
        check_file(path, limits)
    path.write_bytes(_docx_with({"word/document.xml": b"\0" * 2_000_000}))
    with pytest.raises(LoadError, match="RAG_INGEST_MAX_ZIP_RATIO"):
        check_file(path, limits)
    path.write_bytes(b"not a zip at all")
    check_file(path, limits)  # left to the loader, which reports an unreadable .docx


def test_child_environment_carries_the_servers_settings_exactly(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RAG_COLLECTION", "from-the-environment")
    settings = load_settings(
        data_dir=tmp_path / "d",
        collection="server-collection",
        upload_extensions=[".md"],
        cors_origins=["http://a"],
        hybrid=False,
    )
    env = child_environment(settings)
    assert env["OMP_NUM_THREADS"] == "1" and env["HF_HUB_OFFLINE"] == "1"
    for key in [k for k in os.environ if k.startswith("RAG_")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        if key.startswith("RAG_"):
            monkeypatch.setenv(key, value)
    again = load_settings()
    assert again.model_dump() == {
        **settings.model_dump(),
        "data_dir": settings.data_dir.resolve(),
        "openai_api_key": again.openai_api_key,
    }
    assert again.openai_api_key.get_secret_value() == settings.openai_api_key.get_secret_value()


async def test_job_states_and_per_file_outcomes(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite'}")
    jobs = JobStore(db, "rag_")
    try:
        job_id = await jobs.create("alice", ["a.md", "b.pdf"])
        job = await jobs.get("alice", job_id)
        assert job is not None and job["status"] == "queued"
        assert job["progress"] == {"done": 0, "total": 2} and job["failures"] == []
        assert await jobs.get("bob", job_id) is None
        await jobs.set_status(job_id, "running")
        await jobs.record_file(job_id, "b.pdf", {"status": "failed", "error": "too many pages"})
        job = await jobs.get("alice", job_id)
        assert job is not None and job["status"] == "running"
        assert job["progress"] == {"done": 1, "total": 2}
        assert job["failures"] == [{"name": "b.pdf", "error": "too many pages"}]
        await jobs.record_file(job_id, "a.md", {"status": "done", "added": 3})
        await jobs.set_status(job_id, "done")
        job = await jobs.get("alice", job_id)
        assert job is not None and job["status"] == "done"
        assert job["files"] == [
            {"name": "a.md", "status": "done", "added": 3},
            {"name": "b.pdf", "status": "failed", "error": "too many pages"},
        ]
    finally:
        await db.close()


async def test_unfinished_jobs_of_a_dead_process_on_this_host_are_failed(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite'}")
    jobs = JobStore(db, "rag_")
    host = RUNNER.split(":", 1)[0]
    try:
        ids = {}
        for label, runner in [
            ("ours", RUNNER),
            ("dead", f"{host}:{2**22 + 12345}:aaaa"),  # above the kernel's pid_max
            ("earlier start", f"{host}:{os.getpid()}:bbbb"),
            ("other host", f"elsewhere:{os.getpid()}:cccc"),
        ]:
            ids[label] = await jobs.create("alice", ["a.md"])
            async with db.engine.begin() as conn:
                await conn.execute(
                    jobs.t.update().where(jobs.t.c.id == ids[label]).values(runner=runner)
                )
        assert await jobs.fail_abandoned() == 2
        status = {label: (await jobs.get("alice", i))["status"] for label, i in ids.items()}  # type: ignore[index]
        assert status == {
            "ours": "queued",
            "dead": "failed",
            "earlier start": "failed",
            "other host": "queued",
        }
    finally:
        await db.close()


class _BrokenWriter:
    """A writer whose process dies after the first file."""

    async def ingest(self, owner: str, files: list[Path]) -> AsyncGenerator[dict[str, Any], None]:
        yield {"event": "file", "name": files[0].name, "status": "done", "added": 1}
        raise WriterFailed("the ingest process exited with code -9: killed")

    async def delete(self, owner: str, source: str) -> int:
        raise WriterFailed("no")

    async def close(self) -> None:
        return None


async def test_a_writer_that_dies_fails_the_job_and_cleans_its_staging(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite'}")
    jobs = JobStore(db, "rag_")
    storage = UploadStorage(tmp_path / "uploads")
    queue = WriteQueue(_BrokenWriter(), jobs, storage)
    try:
        job_id = await jobs.create("alice", ["a.md", "b.md"])
        staged = [
            storage.stage("alice", job_id, name, io.BytesIO(b"text")) for name in ("a.md", "b.md")
        ]
        await queue._ingest(IngestJob(job_id, "alice", staged))
        job = await jobs.get("alice", job_id)
        assert job is not None and job["status"] == "failed"
        assert job["error"] == "the ingest process exited with code -9: killed"
        assert [f["status"] for f in job["files"]] == ["done", "queued"]
        assert (tmp_path / "uploads" / "alice" / "a.md").exists()
        assert not storage.staging_dir("alice", job_id).exists()
        with pytest.raises(WriterFailed):
            queue.start()
            await queue.delete("alice", "a.md")
        assert (tmp_path / "uploads" / "alice" / "a.md").exists()
    finally:
        await queue.stop()
        await db.close()


def test_storage_never_leaves_the_owner_folder(tmp_path: Path) -> None:
    storage = UploadStorage(tmp_path / "uploads")
    with pytest.raises(ValueError):
        storage.owner_dir("../alice")
    with pytest.raises(ValueError):
        storage.staging_dir("alice", "../../x")
    with pytest.raises(UnsafeName):
        storage.stage("alice", "abc", "../x.md", io.BytesIO(b""))
    assert storage.remove("alice", "../../etc/passwd") is False
    assert not storage.has("alice", "..")
