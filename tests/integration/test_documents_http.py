"""/documents on a real ``rag-serve`` with the real ingest child process and the real model.

An upload about something the samples never mention is ingested in the background by
``python -m ingest.upload_ingest`` (checked while it runs: a child of the server, niced, one
thread), answered with its fact and citation, listed, deleted, and then no longer cited. Hostile
and oversized uploads are refused or fail with their reason; another user's key sees nothing.
"""

from __future__ import annotations

import io
import shutil
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.admin import bearer
from tests.support.servers import LiveServer, child_pids

pytestmark = pytest.mark.slow

NOTE = b"""# Marlowe tide clock

The Marlowe tide clock stands on the harbour wall of Port Velin.
At the spring equinox the Marlowe tide clock chimes exactly 43 times.
"""
QUESTION = "How many times does the Marlowe tide clock chime at the spring equinox?"


@pytest.fixture
def own_index(sample_index: dict[str, str], tmp_path: Path) -> dict[str, str]:
    """A private copy of the sample index (this test writes and deletes documents)."""
    data = tmp_path / "data"
    shutil.copytree(sample_index["RAG_DATA_DIR"], data)
    return {**sample_index, "RAG_DATA_DIR": str(data), "RAG_ANSWER_MODE": "extract"}


def _ingest_child(server: LiveServer) -> dict[str, Any] | None:
    """The upload ingest child of ``server`` while it runs: its niceness and thread settings."""
    for pid in child_pids(server.process.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            continue
        if b"ingest.upload_ingest" in cmdline:
            fields = stat.rsplit(") ", 1)[1].split()
            return {"nice": int(fields[16]), "environ": environ}
    return None


def _wait_job(server: LiveServer, job_id: str, headers: dict[str, str] | None = None) -> Any:
    deadline = time.monotonic() + 300
    seen_child = None
    while time.monotonic() < deadline:
        seen_child = _ingest_child(server) or seen_child  # its latest state
        job = httpx.get(f"{server.url}/documents/jobs/{job_id}", headers=headers, timeout=10)
        assert job.status_code == 200, job.text
        if job.json()["status"] in ("done", "failed"):
            return job.json(), seen_child
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} did not finish: {job.text}\n{server.log()[-3000:]}")


def _upload(server: LiveServer, files: list[tuple[str, bytes]], **kw: Any) -> httpx.Response:
    parts = [("files", (name, body, "application/octet-stream")) for name, body in files]
    return httpx.post(f"{server.url}/documents", files=parts, timeout=60, **kw)


def _chat_sources(server: LiveServer, headers: dict[str, str] | None = None) -> Any:
    response = httpx.post(
        f"{server.url}/chat", json={"question": QUESTION}, headers=headers, timeout=120
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return body["answer"], {s["source"] for s in body["sources"]}


def test_upload_answer_list_delete_with_the_real_ingest_process(
    own_index: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    server = live_server(own_index)
    answer, sources = _chat_sources(server)
    assert "marlowe.md" not in sources and "43" not in answer

    started = time.monotonic()
    response = _upload(server, [("marlowe.md", NOTE)])
    assert response.status_code == 202, response.text
    job, child = _wait_job(server, response.json()["job_id"])
    ingest_seconds = time.monotonic() - started
    assert job["status"] == "done", job
    assert job["progress"] == {"done": 1, "total": 1} and job["failures"] == []
    assert child is not None, "the ingest ran in a child process of the server"
    assert child["nice"] == 10 and b"OMP_NUM_THREADS=1" in child["environ"]

    answer, sources = _chat_sources(server)
    assert "43 times" in answer and "[marlowe.md:" in answer, answer
    assert "marlowe.md" in sources
    listed = {d["source"]: d for d in httpx.get(f"{server.url}/documents").json()["documents"]}
    assert listed["marlowe.md"]["owner"] == "_anonymous"
    assert listed["marlowe.md"]["chunks"] >= 1 and listed["marlowe.md"]["ingested_at"]
    assert listed["pricing.md"]["owner"] == "_shared"
    maps = Path(f"/proc/{server.process.pid}/maps").read_text()
    assert "libtorch" not in maps, "the server process itself never loads torch"

    started = time.monotonic()
    deleted = httpx.delete(f"{server.url}/documents/marlowe.md", timeout=120)
    delete_seconds = time.monotonic() - started
    assert deleted.status_code == 204, deleted.text
    answer, sources = _chat_sources(server)
    assert "marlowe.md" not in sources and "43 times" not in answer
    listed_after = {d["source"] for d in httpx.get(f"{server.url}/documents").json()["documents"]}
    assert "marlowe.md" not in listed_after and "pricing.md" in listed_after
    uploads = Path(own_index["RAG_DATA_DIR"]) / "uploads" / "_anonymous"
    assert not (uploads / "marlowe.md").exists()
    print(f"upload to job done: {ingest_seconds:.1f} s; delete: {delete_seconds:.1f} s")


def _zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * 300_000_000)
    return buffer.getvalue()


def test_hostile_and_oversized_uploads_on_a_live_server(
    own_index: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    server = live_server(own_index, RAG_UPLOAD_MAX_FILES="3", RAG_UPLOAD_MAX_FILE_BYTES="2000000")
    data = Path(own_index["RAG_DATA_DIR"])
    outside = sorted(p.name for p in data.iterdir())

    traversal = _upload(server, [("../../../marlowe.md", NOTE)])
    assert traversal.status_code == 202, traversal.text
    bomb = _upload(server, [("report.docx", _zip_bomb())])
    assert bomb.status_code == 202, bomb.text
    job, _ = _wait_job(server, traversal.json()["job_id"])
    assert job["status"] == "done" and job["files"][0]["name"] == "marlowe.md"
    job, _ = _wait_job(server, bomb.json()["job_id"])
    assert job["status"] == "failed"
    assert "zip bomb" in job["failures"][0]["error"], job

    unsupported = _upload(server, [("tool.exe", b"MZ\x90\x00")])
    assert unsupported.status_code == 415 and ".md" in unsupported.json()["supported"]
    too_many = _upload(server, [(f"n{i}.md", b"text") for i in range(4)])
    assert too_many.status_code == 413, too_many.text
    too_big = _upload(server, [("big.md", b"a" * 2_000_001)])
    assert too_big.status_code == 413, too_big.text
    way_too_big = _upload(server, [("huge.md", b"a" * 7_000_000)])
    assert way_too_big.status_code == 413 and "RAG_UPLOAD_MAX" in way_too_big.json()["message"]

    # Nothing written beside the index but the uploads folder.
    assert sorted(p.name for p in data.iterdir()) == sorted([*outside, "uploads"])
    tree = sorted(str(p.relative_to(data / "uploads")) for p in (data / "uploads").rglob("*"))
    assert tree == ["_anonymous", "_anonymous/.staging", "_anonymous/marlowe.md"]
    listed = {d["source"] for d in httpx.get(f"{server.url}/documents").json()["documents"]}
    assert "marlowe.md" in listed and "report.docx" not in listed


def test_another_users_key_can_neither_see_nor_delete(
    own_index: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    env = {**own_index, "RAG_AUTH": "apikey"}
    alice, bob = bearer(env, "alice"), bearer(env, "bob")
    server = live_server(env)
    response = _upload(server, [("marlowe.md", NOTE)], headers=alice)
    assert response.status_code == 202, response.text
    job_id = response.json()["job_id"]
    job, _ = _wait_job(server, job_id, alice)
    assert job["status"] == "done", job

    assert httpx.get(f"{server.url}/documents/jobs/{job_id}", headers=bob).status_code == 404
    bob_sees = httpx.get(f"{server.url}/documents", headers=bob).json()["documents"]
    assert "marlowe.md" not in {d["source"] for d in bob_sees}
    assert "marlowe.md" not in _chat_sources(server, bob)[1]
    assert httpx.delete(f"{server.url}/documents/marlowe.md", headers=bob).status_code == 404
    assert httpx.delete(f"{server.url}/documents/pricing.md", headers=alice).status_code == 404
    assert "marlowe.md" in _chat_sources(server, alice)[1]
    assert _upload(server, [("x.md", NOTE)]).status_code == 401
