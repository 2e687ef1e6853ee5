"""/documents over the app in-process: upload, job, list, delete, limits and owner scoping.

The writer is the real ingest pipeline in-process (``tests.support.documents``) over the fake
index: every check of the server and of ingest runs, only the child process is left out.
"""

from __future__ import annotations

import asyncio
import io
import zipfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.apps import app_client, create_key
from tests.support.documents import InProcessWriter
from tests.support.fakes import fake_resources

NOTE = (
    "# Heron lighthouse\n\nThe Heron lighthouse keeper feeds the seventeen cormorants "
    "every Tuesday at dawn.\n"
)
QUESTION = "Who feeds the seventeen cormorants at the Heron lighthouse?"


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    res = fake_resources(tmp_path / "data", upload_max_file_bytes=4096, upload_max_files=3)
    async with app_client(res) as (app, client):
        app.state.runtime.documents.queue.writer = InProcessWriter(res.settings)
        yield app, client


@pytest.fixture
async def secured(tmp_path: Path) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    res = fake_resources(tmp_path / "data", auth="apikey")
    async with app_client(res) as (app, client):
        app.state.runtime.documents.queue.writer = InProcessWriter(res.settings)
        yield app, client


def _files(*items: tuple[str, bytes]) -> list[tuple[str, tuple[str, bytes, str]]]:
    return [("files", (name, body, "application/octet-stream")) for name, body in items]


async def _finished(client: httpx.AsyncClient, job_id: str, **kw: Any) -> dict[str, Any]:
    for _ in range(400):
        job = (await client.get(f"/documents/jobs/{job_id}", **kw)).json()
        if job["status"] in ("done", "failed"):
            return job  # type: ignore[no-any-return]
        await asyncio.sleep(0.02)
    raise AssertionError(f"job {job_id} did not finish: {job}")


async def _upload(client: httpx.AsyncClient, *items: tuple[str, bytes], **kw: Any) -> str:
    response = await client.post("/documents", files=_files(*items), **kw)
    assert response.status_code == 202, response.text
    assert response.headers["location"] == f"/documents/jobs/{response.json()['job_id']}"
    return str(response.json()["job_id"])


async def _sources(client: httpx.AsyncClient, question: str, **kw: Any) -> set[str]:
    body = {"input": {"question": question}}
    response = await client.post("/retriever/invoke", json=body, **kw)
    assert response.status_code == 200, response.text
    return {hit["source"] for hit in response.json()["output"]}


def _uploads(app: FastAPI) -> Path:
    return Path(app.state.runtime.settings.uploads_dir)


def _tree(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*")) if root.exists() else []


async def test_upload_is_ingested_listed_answered_and_deleted(served: Any) -> None:
    app, client = served
    assert "heron.md" not in await _sources(client, QUESTION)
    job_id = await _upload(client, ("heron.md", NOTE.encode()))
    job = await _finished(client, job_id)
    assert job["status"] == "done" and job["failures"] == [] and job["error"] is None
    assert job["progress"] == {"done": 1, "total": 1}
    assert job["files"][0]["name"] == "heron.md" and job["files"][0]["added"] >= 1

    assert "heron.md" in await _sources(client, QUESTION)
    listed = {d["source"]: d for d in (await client.get("/documents")).json()["documents"]}
    mine = listed["heron.md"]
    assert mine["owner"] == "_anonymous" and mine["deletable"] is True
    assert mine["chunks"] == job["files"][0]["added"]
    assert mine["ingested_at"].endswith("Z")
    assert listed["pricing.md"]["owner"] == "_shared" and listed["pricing.md"]["deletable"] is False
    assert "alice-notes.md" not in listed  # another user's private document
    assert (_uploads(app) / "_anonymous" / "heron.md").read_bytes() == NOTE.encode()

    response = await client.delete("/documents/heron.md")
    assert response.status_code == 204, response.text
    assert "heron.md" not in await _sources(client, QUESTION)
    listed_after = {d["source"] for d in (await client.get("/documents")).json()["documents"]}
    assert "heron.md" not in listed_after and "pricing.md" in listed_after
    assert not (_uploads(app) / "_anonymous" / "heron.md").exists()
    assert (await client.delete("/documents/heron.md")).status_code == 404


async def test_a_path_in_the_file_name_is_reduced_to_its_base_name(served: Any) -> None:
    app, client = served
    job = await _finished(client, await _upload(client, ("../../../evil.md", NOTE.encode())))
    assert job["status"] == "done" and job["files"][0]["name"] == "evil.md"
    assert _tree(_uploads(app)) == ["_anonymous", "_anonymous/.staging", "_anonymous/evil.md"]
    assert not (_uploads(app).parent.parent / "evil.md").exists()


def _raw_multipart(names: list[str]) -> tuple[bytes, dict[str, str]]:
    """A multipart body with file names sent byte for byte (httpx would percent-encode them)."""
    boundary = "b0undary"
    parts = b"".join(
        f'--{boundary}\r\nContent-Disposition: form-data; name="files"; filename="{name}"\r\n'
        f"Content-Type: text/plain\r\n\r\nsome text\r\n".encode()
        for name in names
    )
    body = parts + f"--{boundary}--\r\n".encode()
    return body, {"content-type": f"multipart/form-data; boundary={boundary}"}


@pytest.mark.parametrize(
    "name", ["..", "a/..", "..\\", ".env.md", "bad\x1bname.md", "tab\tname.md", "x" * 210 + ".md"]
)
async def test_a_name_that_cannot_be_made_safe_is_400_and_nothing_is_stored(
    served: Any, name: str
) -> None:
    app, client = served
    body, headers = _raw_multipart(["ok.md", name])
    response = await client.post("/documents", content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "unsafe_file_name"
    assert _tree(_uploads(app)) == []


async def test_unsupported_type_is_415_with_the_supported_list(served: Any) -> None:
    app, client = served
    response = await client.post("/documents", files=_files(("ok.md", b"x"), ("run.exe", b"MZ")))
    assert response.status_code == 415
    body = response.json()
    assert body["error"] == "unsupported_media_type" and ".exe" in body["message"]
    assert body["supported"] == [
        ".md",
        ".markdown",
        ".txt",
        ".text",
        ".html",
        ".htm",
        ".pdf",
        ".docx",
    ]
    assert _tree(_uploads(app)) == []


async def test_too_many_files_and_too_big_a_file_are_413(served: Any) -> None:
    app, client = served
    four = [(f"n{i}.md", b"text") for i in range(4)]
    response = await client.post("/documents", files=_files(*four))
    assert response.status_code == 413 and "RAG_UPLOAD_MAX_FILES" in response.json()["message"]
    response = await client.post("/documents", files=_files(("big.md", b"a" * 4097)))
    assert response.status_code == 413
    assert "RAG_UPLOAD_MAX_FILE_BYTES" in response.json()["message"]
    assert _tree(_uploads(app)) == []


async def test_uploads_have_their_own_body_limit_and_other_routes_keep_theirs(
    tmp_path: Path,
) -> None:
    res = fake_resources(
        tmp_path / "data", max_body_bytes=2048, upload_max_file_bytes=8192, upload_max_files=1
    )
    async with app_client(res) as (app, client):
        app.state.runtime.documents.queue.writer = InProcessWriter(res.settings)
        text = ("The Heron lighthouse keeper feeds cormorants. " * 100).encode()[:6000]
        job = await _finished(client, await _upload(client, ("long.md", text)))
        assert job["status"] == "done"
        too_big = await client.post("/documents", files=_files(("x.md", b"a" * 100_000)))
        assert too_big.status_code == 413 and "RAG_UPLOAD_MAX_FILES" in too_big.json()["message"]
        chat = await client.post("/chat", json={"question": "q" * 3000})
        assert chat.status_code == 413 and "RAG_MAX_BODY_BYTES" in chat.json()["message"]


def _zip_bomb(inflated_bytes: int) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", b"\0" * inflated_bytes)
    return buffer.getvalue()


async def test_a_docx_zip_bomb_fails_in_the_job_and_the_good_file_is_ingested(
    tmp_path: Path,
) -> None:
    res = fake_resources(tmp_path / "data")
    async with app_client(res) as (app, client):
        app.state.runtime.documents.queue.writer = InProcessWriter(res.settings)
        bomb = _zip_bomb(50_000_000)
        assert len(bomb) < 100_000
        job_id = await _upload(client, ("bomb.docx", bomb), ("heron.md", NOTE.encode()))
        job = await _finished(client, job_id)
        assert job["status"] == "done" and job["progress"] == {"done": 2, "total": 2}
        [failure] = job["failures"]
        assert failure["name"] == "bomb.docx" and "zip bomb" in failure["error"]
        assert "RAG_INGEST_MAX_ZIP_RATIO" in failure["error"]
        assert _tree(_uploads(app)) == ["_anonymous", "_anonymous/.staging", "_anonymous/heron.md"]
        listed = {d["source"] for d in (await client.get("/documents")).json()["documents"]}
        assert "heron.md" in listed and "bomb.docx" not in listed


async def test_a_pdf_over_the_page_limit_fails_the_job_with_the_reason(tmp_path: Path) -> None:
    from reportlab.pdfgen import canvas

    buffer = io.BytesIO()
    pdf = canvas.Canvas(buffer)
    for page in range(5):
        pdf.drawString(72, 720, f"Heron lighthouse page {page}")
        pdf.showPage()
    pdf.save()
    res = fake_resources(tmp_path / "data", ingest_max_pdf_pages=3)
    async with app_client(res) as (app, client):
        app.state.runtime.documents.queue.writer = InProcessWriter(res.settings)
        job = await _finished(client, await _upload(client, ("huge.pdf", buffer.getvalue())))
        assert job["status"] == "failed" and job["error"] == "every file failed"
        assert job["failures"] == [
            {"name": "huge.pdf", "error": job["files"][0]["error"]},
        ]
        assert "5 pages, over RAG_INGEST_MAX_PDF_PAGES (3)" in job["files"][0]["error"]
        assert _tree(_uploads(app)) == ["_anonymous", "_anonymous/.staging"]


async def test_another_users_key_can_neither_see_nor_delete(secured: Any) -> None:
    app, client = secured
    alice = await create_key(app, "alice")
    bob = await create_key(app, "bob")
    job_id = await _upload(client, ("heron.md", NOTE.encode()), headers=alice)
    assert (await _finished(client, job_id, headers=alice))["status"] == "done"

    assert (await client.get(f"/documents/jobs/{job_id}", headers=bob)).status_code == 404
    bob_sees = {
        d["source"] for d in (await client.get("/documents", headers=bob)).json()["documents"]
    }
    assert "heron.md" not in bob_sees and "pricing.md" in bob_sees
    assert "heron.md" not in await _sources(client, QUESTION, headers=bob)
    missing = await client.delete("/documents/heron.md", headers=bob)
    assert missing.status_code == 404 and missing.json()["error"] == "not_found"
    # Bob uploading the same name gets his own document; Alice's is untouched.
    bob_job = await _upload(
        client, ("heron.md", b"# Bob\n\nBob keeps bees on the roof.\n"), headers=bob
    )
    assert (await _finished(client, bob_job, headers=bob))["status"] == "done"

    alice_sees = (await client.get("/documents", headers=alice)).json()["documents"]
    assert {(d["source"], d["owner"]) for d in alice_sees if d["source"] == "heron.md"} == {
        ("heron.md", "alice")
    }
    assert "heron.md" in await _sources(client, QUESTION, headers=alice)
    # Shared documents are nobody's to delete over HTTP.
    assert (await client.delete("/documents/pricing.md", headers=alice)).status_code == 404
    assert "pricing.md" in await _sources(
        client, "How much does the Team plan cost?", headers=alice
    )
    assert (await client.delete("/documents/heron.md", headers=alice)).status_code == 204
    assert "heron.md" not in await _sources(client, QUESTION, headers=alice)
    bob_left = (await client.get("/documents", headers=bob)).json()["documents"]
    assert [d["owner"] for d in bob_left if d["source"] == "heron.md"] == ["bob"]
    assert (await client.get("/documents")).status_code == 401


async def test_a_request_without_files_is_a_clear_4xx(served: Any) -> None:
    _, client = served
    no_files = await client.post("/documents", data={"other": "x"})
    assert no_files.status_code == 422 and "files" in no_files.json()["message"]
    json_body = await client.post("/documents", json={"files": ["a.md"]})
    assert json_body.status_code == 422
    bad_id = await client.get("/documents/jobs/not-a-job")
    assert bad_id.status_code == 422
    unknown = await client.get("/documents/jobs/" + "0" * 32)
    assert unknown.status_code == 404 and unknown.json()["error"] == "not_found"
