"""``/documents``: upload files, follow their ingest, list and delete documents (owner-scoped).

The owner is the caller as the access middleware identified them, exactly as for retrieval: a
client can neither name another owner nor reach another owner's job or document (both answer 404,
like ones that never existed).
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, File, Path, Response, UploadFile
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from app.errors.backends import history_unavailable
from app.runtime import DocumentsDep
from app.security.auth import owner_of

T = TypeVar("T")

router = APIRouter(tags=["documents"])
Owner = Annotated[str, Depends(owner_of)]
JobId = Path(..., min_length=32, max_length=32, pattern=r"^[0-9a-f]{32}$")


async def _db(call: Awaitable[T]) -> T:
    try:
        return await call
    except (SQLAlchemyError, OSError) as exc:
        raise history_unavailable(exc) from None


@router.post("/documents", status_code=202)
async def upload_documents(
    documents: DocumentsDep,
    owner: Owner,
    files: Annotated[
        list[UploadFile], File(description="one or more documents (.md, .txt, .html, .pdf, .docx)")
    ],
) -> JSONResponse:
    """Store the files and ingest them in the background; poll the returned job."""
    job_id = await _db(documents.upload(owner, files))
    return JSONResponse(
        {"job_id": job_id}, status_code=202, headers={"Location": f"/documents/jobs/{job_id}"}
    )


@router.get("/documents/jobs/{job_id}")
async def read_job(documents: DocumentsDep, owner: Owner, job_id: str = JobId) -> dict[str, Any]:
    """Status, progress and per-file outcome of one of the caller's upload jobs."""
    return await _db(documents.job(owner, job_id))


@router.get("/documents")
async def list_documents(documents: DocumentsDep, owner: Owner) -> dict[str, list[dict[str, Any]]]:
    """The documents the caller's questions are answered from: their own and the shared ones."""
    return {"documents": await documents.visible(owner)}


@router.delete("/documents/{source:path}", status_code=204)
async def delete_document(
    documents: DocumentsDep,
    owner: Owner,
    source: Annotated[str, Path(min_length=1, max_length=1000)],
) -> Response:
    """Remove one of the caller's documents: its chunks, its ingest records, its uploaded file."""
    await documents.delete(owner, source)
    return Response(status_code=204)
