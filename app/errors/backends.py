"""Translate failures of the model or index backends into client-facing errors.

A refused connection, a stalled stream or a server error from Ollama / an OpenAI-compatible API must
reach the client as a clear 503/504 (or an SSE ``error`` event), never as a hang or a traceback.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from rag_chain import ModelWorkerError
from rag_core.index_errors import INDEX_ERRORS, is_index_failure

from app.errors.api import ApiError, error_response, unexpected_error

log = logging.getLogger("rag.server")


def index_error(exc: BaseException) -> ApiError:
    """The client-facing error for an unreadable index, with what to do about it."""
    text = str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
    return ApiError(
        503,
        f"the document index cannot be read ({text}); re-run rag-ingest or restore RAG_DATA_DIR",
        code="index_unavailable",
    )


def history_unavailable(exc: Exception) -> ApiError:
    """The 503 a client gets when the history database fails (the cause goes to the log)."""
    log.error("history database error: %s", exc)
    return ApiError(503, "the history database is unavailable; try again shortly")


def backend_error(exc: BaseException, timeout: float) -> ApiError:
    """Map an exception raised while answering to the error the client should see."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, ModelWorkerError):
        # The embedded model's worker crashed mid-answer (503 model_crashed: the next question
        # will be answered after its restart), hung and was restarted (504 model_stalled) or
        # cannot load at all (503 model_unavailable, with the fix).
        return ApiError(exc.status, exc.with_fix(), code=exc.code)
    if is_index_failure(exc):
        return index_error(exc)
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return ApiError(504, f"the language model did not answer within {timeout:g} s")
    name = type(exc).__name__
    text = str(exc).splitlines()[0][:200] if str(exc) else name
    if "Timeout" in name or isinstance(exc, httpx.TimeoutException):
        return ApiError(504, f"the language model backend timed out ({name})")
    if isinstance(exc, ValueError) and "input must be" in text:
        return ApiError(422, text)
    return ApiError(503, f"the language model backend failed: {name}: {text}")


def backend_failures(*backends: str) -> tuple[type[Exception], ...]:
    """Exceptions that mean "a backend failed", whichever route was running (LangServe's included).

    The client libraries' own errors are added only for the backends in use: importing ``openai``
    alone costs ~1.3 s of start-up, which the embedded default should not pay.
    """
    failures: list[type[Exception]] = [
        ModelWorkerError,
        httpx.HTTPError,
        *INDEX_ERRORS,
        ConnectionError,
        TimeoutError,
    ]
    if "openai" in backends:
        import openai

        failures.append(openai.APIError)
    if "ollama" in backends:
        import ollama

        failures.append(ollama.ResponseError)
    return tuple(failures)


def install_backend_error_handlers(app: FastAPI, timeout: float, backends: tuple[str, ...]) -> None:
    """Answer backend failures escaping any route (e.g. /rag/invoke) with 503/504, not a 500.

    ``backends`` names the model and embedding providers in use (``settings.llm``,
    ``settings.embeddings``).
    """

    async def _backend_failure(request: Request, exc: Exception) -> JSONResponse:
        error = backend_error(exc, timeout)
        log.warning("%s %s: %s", request.method, request.url.path, error.message)
        return error_response(error.status, error.message, error.code)

    async def _index_or_bug(request: Request, exc: Exception) -> JSONResponse:
        if is_index_failure(exc):
            return await _backend_failure(request, exc)
        return await unexpected_error(request, exc)

    for failure in backend_failures(*backends):
        app.add_exception_handler(failure, _backend_failure)
    app.add_exception_handler(Exception, _index_or_bug)
