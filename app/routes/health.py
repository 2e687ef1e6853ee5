"""``GET /health``: is the server up, which index and models does it use, how big is the index."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, Request
from rag_chain import chat_model_label
from rag_core.embeddings import embeddings_label
from rag_core.vectorstore import vectorstore_label

from app.runtime import Runtime, RuntimeDep
from app.security.auth import user_of

router = APIRouter(tags=["health"])

#: Health probes get a thread of their own: under streaming load the default executor is busy
#: with retrievals, and a probe queued behind them looks like a hung server (bench: /health p99
#: 101 ms with 16 streams).
_PROBE_EXECUTOR = ThreadPoolExecutor(max_workers=1, thread_name_prefix="health-probe")


async def _index_status(runtime: Runtime) -> tuple[int | None, str]:
    """(chunk count, "ready" | "missing" | "error: ...") of the collection."""
    reader = runtime.resources.reader
    try:
        loop = asyncio.get_running_loop()
        count = await loop.run_in_executor(_PROBE_EXECUTOR, reader.count)
    except Exception as exc:  # a broken store must not break the health endpoint
        return None, f"error: {type(exc).__name__}"
    return count, "ready" if count is not None else "missing"


@router.get("/health")
async def health(request: Request, runtime: RuntimeDep) -> dict[str, object]:
    """Cheap liveness and index status; works before the first ingest ("index": "missing")."""
    settings = runtime.settings
    count, index = await _index_status(runtime)
    body: dict[str, object] = {
        "status": "ok" if index == "ready" else "degraded",
        "index": index,
        "collection": settings.collection,
        "documents": count or 0,
        "llm": chat_model_label(settings),
        "embeddings": embeddings_label(settings),
        "vectorstore": vectorstore_label(settings),
    }
    worker = runtime.resources.worker_status()  # None for Ollama / OpenAI (no worker)
    if worker is not None:
        body["model_worker"] = worker.as_dict()
        if worker.state == "failed":
            body["status"] = "degraded"
    if index == "missing":
        body["hint"] = "no index yet: run `rag-ingest PATH` (make run ingests the samples)"
    if settings.auth == "apikey" and user_of(request) is None:
        # The count includes every user's private documents: only key holders may see it.
        del body["documents"]
    return body
