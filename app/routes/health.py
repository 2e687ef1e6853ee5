"""``GET /health``: is the server up, which index and models does it use, how big is the index."""

from __future__ import annotations

import asyncio

from fastapi import APIRouter, Request
from rag_chain.llm import chat_model_label
from rag_core.embeddings import embeddings_label

from app.runtime import get_runtime

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(request: Request) -> dict[str, object]:
    """Cheap liveness and index status; works before the first ingest ("index": "missing")."""
    runtime = get_runtime(request)
    settings = runtime.settings
    try:
        count = await asyncio.to_thread(runtime.resources.reader.count)
        index = "ready" if count is not None else "missing"
    except Exception as exc:  # a broken store must not break the health endpoint
        count, index = None, f"error: {type(exc).__name__}"
    body: dict[str, object] = {
        "status": "ok" if index == "ready" else "degraded",
        "index": index,
        "collection": settings.collection,
        "documents": count or 0,
        "llm": chat_model_label(settings),
        "embeddings": embeddings_label(settings),
        "vectorstore": "chroma-server" if settings.chroma_url else "chroma-embedded",
    }
    if index == "missing":
        body["hint"] = "no index yet: run `rag-ingest PATH` (make run ingests the samples)"
    if settings.auth == "apikey" and runtime.user_of(request) is None:
        # The count includes every user's private documents: only key holders may see it.
        del body["documents"]
    return body
