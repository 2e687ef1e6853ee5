"""``GET /ready``: can this server answer right now? Probes the vector store and the LLM backend.

``/health`` stays a cheap liveness check; ``/ready`` does real (short) work, for load balancers and
orchestrators: it counts the collection, and asks the model backend whether it is there: a cheap
HTTP call with a short timeout for Ollama / OpenAI-compatible APIs, the model worker's state for
llama.cpp (a worker that could not load names the cause and the fix, e.g. ``make llama-rebuild``).
200 when both answer, 503 (with what failed) otherwise.
"""

from __future__ import annotations

import asyncio

import httpx
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from rag_core.settings import Settings

from app.runtime import Runtime, RuntimeDep

router = APIRouter(tags=["health"])

#: Seconds each probe may take; readiness must answer quickly even when a backend hangs.
PROBE_TIMEOUT = 2.0


async def probe_index(runtime: Runtime) -> str:
    """``ok``, ``missing`` (no ingest yet) or the error opening / counting the collection."""
    try:
        count = await asyncio.wait_for(
            asyncio.to_thread(runtime.resources.reader.count), PROBE_TIMEOUT
        )
    except TimeoutError:
        return f"error: no answer within {PROBE_TIMEOUT:g} s"
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok" if count is not None else "missing"


def _backend_url(settings: Settings) -> tuple[str, dict[str, str]]:
    if settings.llm == "ollama":
        return f"{settings.ollama_base_url}/api/tags", {}
    key = settings.openai_api_key.get_secret_value()
    return f"{settings.openai_base_url}/models", {"Authorization": f"Bearer {key}"}


async def probe_llm(runtime: Runtime) -> str:
    """``ok`` when the model is loaded (llama.cpp) or its server answers (Ollama / OpenAI)."""
    settings = runtime.settings
    if settings.llm == "llamacpp":
        status = runtime.resources.worker_status()
        if status is None:  # a test's fake model: nothing to supervise
            return "ok"
        if status.state == "ready":
            return "ok"
        if status.state == "failed":
            fix = f"; fix: {status.fix}" if status.fix else ""
            return f"error: {status.last_error}{fix}"
        restarting = f" after: {status.last_error}" if status.last_error else ""
        return f"error: the model worker is {status.state}{restarting}"
    url, headers = _backend_url(settings)
    try:
        async with httpx.AsyncClient(timeout=PROBE_TIMEOUT) as client:
            response = await client.get(url, headers=headers)
    except httpx.HTTPError as exc:
        return f"error: {type(exc).__name__} reaching {settings.llm} backend"
    if response.status_code >= 500 or response.status_code in (401, 403):
        return f"error: {settings.llm} backend answered {response.status_code}"
    return "ok"


@router.get("/ready")
async def ready(runtime: RuntimeDep) -> JSONResponse:
    """200 when the index and the model backend both answer; 503 naming what does not."""
    index, llm = await asyncio.gather(probe_index(runtime), probe_llm(runtime))
    body = {"ready": index == "ok" and llm == "ok", "index": index, "llm": llm}
    if index == "missing":
        body["hint"] = "no index yet: run `rag-ingest PATH`"
    return JSONResponse(body, status_code=200 if body["ready"] else 503)
