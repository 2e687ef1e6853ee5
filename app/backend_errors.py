"""Translate failures of the model or index backends into client-facing errors.

A refused connection, a stalled stream or a server error from Ollama / an OpenAI-compatible API must
reach the client as a clear 503/504 (or an SSE ``error`` event), never as a hang or a traceback.
"""

from __future__ import annotations

import asyncio

from app.errors import ApiError


def backend_error(exc: BaseException, timeout: float) -> ApiError:
    """Map an exception raised while answering to the error the client should see."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, asyncio.TimeoutError | TimeoutError):
        return ApiError(504, f"the language model did not answer within {timeout:g} s")
    name = type(exc).__name__
    text = str(exc).splitlines()[0][:200] if str(exc) else name
    if "Timeout" in name:
        return ApiError(504, f"the language model backend timed out ({name})")
    if isinstance(exc, ValueError) and "input must be" in text:
        return ApiError(422, text)
    return ApiError(503, f"the language model backend failed: {name}: {text}")
