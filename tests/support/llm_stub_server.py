"""Loopback stub LLM server that speaks the real Ollama and OpenAI HTTP protocols.

Why a server and not mocks: the failures that matter (NDJSON/SSE framing, read timeouts,
connections dropped mid-stream, client disconnects stopping generation) live in the
httpx/httpx2 layers under ``langchain_ollama`` and ``langchain_openai``. Patching the
client objects would skip exactly those layers, so tests talk HTTP to this instead.

Endpoints (paths as the real clients call them):
  Ollama: POST /api/chat (NDJSON stream unless "stream": false), POST /api/embed,
          GET /api/tags, POST /api/show, GET /api/version, GET / ("Ollama is running").
  OpenAI: POST /v1/chat/completions (SSE when "stream": true), POST /v1/embeddings,
          GET /v1/models.
Behaviours apply to the generating endpoints (chat, embeddings) only; metadata endpoints
always answer, so health checks keep working while a test simulates a broken model.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import math
import re
import socket
import struct
import threading
import time
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response, StreamingResponse
from starlette.routing import Route

BEHAVIORS = ("ok", "error", "stall", "cut", "slow")
DEFAULT_MODELS = ("llama3.1:8b", "nomic-embed-text:latest")
SLOW_DEFAULT_DELAY = 0.2  # per-token delay of behavior "slow" when token_delay is 0
OLLAMA_VERSION = "0.12.6"


class _Cut(Exception):
    """Raised inside a response body: uvicorn then closes the socket mid-response."""


def _not_a_cut(record: logging.LogRecord) -> bool:
    """uvicorn logs app exceptions with a traceback; deliberate cuts are not errors."""
    exc = record.exc_info[1] if record.exc_info else None
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return not isinstance(exc, _Cut)


def embed_text(text: str, dim: int = 64) -> list[float]:
    """Deterministic, L2-normalised, feature-hashed bag of words.

    Why bag-of-words rather than a pure hash: texts sharing words get a positive cosine
    similarity, so retrieval tests rank the relevant chunk first. A 0.25-weight feature of
    the whole text keeps reordered texts distinct and guarantees a non-zero vector.
    """
    vec = [0.0] * dim
    feats = [(w, 1.0) for w in re.findall(r"\w+", text.lower())] + [("\0" + text, 0.25)]
    for feat, weight in feats:
        h = int.from_bytes(hashlib.blake2b(feat.encode(), digest_size=8).digest(), "big")
        vec[h % dim] += weight if h >> 63 else -weight
    norm = math.sqrt(sum(v * v for v in vec))
    return [v / norm for v in vec]


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()  # compact, as Go/OpenAI send it


def _now() -> str:
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


def _text_of(content: Any) -> str:
    """Message content is a str, or (OpenAI) a list of {"type": "text", "text": ...} parts."""
    if isinstance(content, list):
        return " ".join(p.get("text", "") for p in content if isinstance(p, dict))
    return content or ""


def _prompt_words(body: dict) -> int:
    return sum(len(_text_of(m.get("content")).split()) for m in body.get("messages") or [])


class StubLLMServer:
    """uvicorn+Starlette on 127.0.0.1:<port 0> in a daemon thread; see the module docstring.

    ``behavior``, ``reply`` and ``token_delay`` may be changed at any time; each request
    snapshots ``behavior`` on arrival. ``requests`` records ``(path, json_body or None)``;
    ``tokens_sent`` counts content tokens handed to sockets across all requests, so tests
    can prove that generation stopped (stall, cut, client disconnect).
    """

    def __init__(
        self,
        behavior: str = "ok",
        *,
        reply: str | None = None,
        token_delay: float = 0.0,
        embedding_dim: int = 64,
        models: tuple[str, ...] = DEFAULT_MODELS,
        host: str = "127.0.0.1",
    ) -> None:
        self.behavior, self.reply, self.token_delay = behavior, reply, token_delay
        self.embedding_dim, self.models, self.host, self.port = embedding_dim, models, host, 0
        self.requests: list[tuple[str, Any]] = []
        self.tokens_sent = 0
        self._closing = threading.Event()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def behavior(self) -> str:
        return self._behavior

    @behavior.setter
    def behavior(self, value: str) -> None:
        if value not in BEHAVIORS:
            raise ValueError(f"behavior must be one of {BEHAVIORS}, got {value!r}")
        self._behavior = value

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_base_url(self) -> str:
        return self.base_url + "/v1"

    # ---- lifecycle -------------------------------------------------------------------
    def start(self) -> StubLLMServer:
        sock = socket.socket()
        sock.bind((self.host, 0))  # bound before uvicorn runs: no free_port() race
        self.port = sock.getsockname()[1]
        logging.getLogger("uvicorn.error").addFilter(_not_a_cut)  # idempotent
        config = uvicorn.Config(  # log_config=None: leave the test's logging setup alone
            self._app(),
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            loop="asyncio",
            http="h11",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            daemon=True,
            name=f"stub-llm-{self.port}",
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("stub LLM server failed to start")
            time.sleep(0.005)
        return self

    def close(self) -> None:
        """Wake stalled responses first (they drop their sockets), then stop uvicorn."""
        self._closing.set()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=5)
            if self._thread.is_alive():
                raise RuntimeError("stub LLM server did not stop within 5 s")

    def __enter__(self) -> StubLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def reset(self) -> None:
        self.requests.clear()
        self.tokens_sent = 0

    # ---- shared mechanics ------------------------------------------------------------
    def _app(self) -> Starlette:
        def route(path: str, handler: Callable[[dict, str], Response], method: str) -> Route:
            async def endpoint(request: Request) -> Response:
                raw = await request.body()
                body = json.loads(raw) if raw else None
                self.requests.append((path, body))
                return handler(body or {}, self.behavior)

            return Route(path, endpoint, methods=[method])

        return Starlette(
            routes=[
                route("/", lambda b, _: PlainTextResponse("Ollama is running"), "GET"),
                route(
                    "/api/version", lambda b, _: JSONResponse({"version": OLLAMA_VERSION}), "GET"
                ),
                route("/api/tags", self._ollama_tags, "GET"),
                route("/api/show", self._ollama_show, "POST"),
                route("/api/chat", self._ollama_chat, "POST"),
                route("/api/embed", self._ollama_embed, "POST"),
                route("/v1/models", self._openai_models, "GET"),
                route("/v1/chat/completions", self._openai_chat, "POST"),
                route("/v1/embeddings", self._openai_embeddings, "POST"),
            ]
        )

    def _tokens(self, body: dict) -> list[str]:
        """Reply split into words with leading spaces, as real tokenizers emit them."""
        text = self.reply
        if text is None:
            users = [m for m in body.get("messages") or [] if m.get("role") == "user"]
            words = _text_of(users[-1].get("content")).split()[:8] if users else []
            text = "Stub answer: " + " ".join(words)
        return re.findall(r"\s*\S+|\s+$", text)

    def _delay(self, behavior: str) -> float:
        if behavior == "slow":
            return self.token_delay or SLOW_DEFAULT_DELAY
        return self.token_delay

    async def _wait_closing(self) -> None:
        while not self._closing.is_set():  # a client disconnect cancels this sleep
            await asyncio.sleep(0.05)

    async def _emit(
        self, behavior: str, tokens: list[str], render: Callable[[str], bytes]
    ) -> AsyncIterator[bytes]:
        """Yield rendered tokens; "cut" and "stall" end by dropping the connection."""
        for tok in tokens[: {"cut": 2, "stall": 1}.get(behavior, len(tokens))]:
            if delay := self._delay(behavior):
                await asyncio.sleep(delay)
            self.tokens_sent += 1
            yield render(tok)
        if behavior == "stall":
            await self._wait_closing()
        if behavior in ("cut", "stall"):
            raise _Cut(behavior)

    def _stream(
        self, behavior: str, error: dict, media_type: str, parts: Callable[[], AsyncIterator[bytes]]
    ) -> Response:
        if behavior == "error":
            return JSONResponse(error, status_code=500)
        return StreamingResponse(parts(), media_type=media_type)

    def _json(self, behavior: str, payload: dict, error: dict, n_tokens: int = 1) -> Response:
        """Non-streamed answer. It carries Content-Length, so "cut" (half the body, then
        close) surfaces client-side as an incomplete body, like a crashed server."""
        if behavior == "error":
            return JSONResponse(error, status_code=500)
        data = _dumps(payload)

        async def body() -> AsyncIterator[bytes]:
            if behavior == "stall":  # headers are already out; the body never comes
                await self._wait_closing()
                raise _Cut(behavior)
            if behavior == "cut":
                yield data[: len(data) // 2]
                raise _Cut(behavior)
            await asyncio.sleep(self._delay(behavior) * n_tokens)
            self.tokens_sent += n_tokens
            yield data

        return StreamingResponse(
            body(), media_type="application/json", headers={"content-length": str(len(data))}
        )

    # ---- Ollama ----------------------------------------------------------------------
    def _details(self, model: str) -> dict:
        emb = "embed" in model
        return {
            "parent_model": "",
            "format": "gguf",
            "family": "bert" if emb else "llama",
            "families": ["bert" if emb else "llama"],
            "parameter_size": "137M" if emb else "8.0B",
            "quantization_level": "F16" if emb else "Q4_K_M",
        }

    def _ollama_tags(self, body: dict, behavior: str) -> Response:
        return JSONResponse(
            {
                "models": [
                    {
                        "name": m,
                        "model": m,
                        "modified_at": _now(),
                        "size": 4_920_753_328,
                        "digest": hashlib.sha256(m.encode()).hexdigest(),
                        "details": self._details(m),
                    }
                    for m in self.models
                ]
            }
        )

    def _ollama_show(self, body: dict, behavior: str) -> Response:
        name = body.get("model") or body.get("name") or ""
        model = next((m for m in self.models if m in (name, f"{name}:latest")), None)
        if model is None:
            return JSONResponse({"error": f"model '{name}' not found"}, status_code=404)
        details = self._details(model)
        return JSONResponse(
            {
                "license": "",
                "modelfile": f"FROM {model}\n",
                "parameters": "",
                "template": "{{ .Prompt }}",
                "details": details,
                "modified_at": _now(),
                "model_info": {"general.architecture": details["family"]},
                "capabilities": ["embedding"] if "embed" in model else ["completion", "tools"],
            }
        )

    def _ollama_chat(self, body: dict, behavior: str) -> Response:
        model, tokens = body.get("model", ""), self._tokens(body)
        n = len(tokens)
        error = {"error": f"stub: simulated failure of model {model!r}"}
        final = {
            "done_reason": "stop",
            "done": True,
            "total_duration": 5_000_000 * n,
            "load_duration": 1_000_000,
            "prompt_eval_count": _prompt_words(body),
            "prompt_eval_duration": 2_000_000,
            "eval_count": n,
            "eval_duration": 4_000_000 * n,
        }

        def msg(content: str) -> dict:
            return {
                "model": model,
                "created_at": _now(),
                "message": {"role": "assistant", "content": content},
            }

        if body.get("stream") is False:  # Ollama streams unless told otherwise
            return self._json(behavior, {**msg("".join(tokens)), **final}, error, n)

        async def parts() -> AsyncIterator[bytes]:
            async for part in self._emit(
                behavior, tokens, lambda t: _dumps({**msg(t), "done": False}) + b"\n"
            ):
                yield part
            yield _dumps({**msg(""), **final}) + b"\n"

        return self._stream(behavior, error, "application/x-ndjson", parts)

    def _ollama_embed(self, body: dict, behavior: str) -> Response:
        texts = body.get("input", "")
        texts = [texts] if isinstance(texts, str) else list(texts)
        dim = body.get("dimensions") or self.embedding_dim
        payload = {
            "model": body.get("model", ""),
            "embeddings": [embed_text(t, dim) for t in texts],
            "total_duration": 1_000_000,
            "load_duration": 100_000,
            "prompt_eval_count": sum(len(t.split()) for t in texts),
        }
        return self._json(behavior, payload, {"error": "stub: simulated embedding failure"})

    # ---- OpenAI ----------------------------------------------------------------------
    _OPENAI_ERROR = {
        "error": {
            "message": "stub: simulated server error",
            "type": "server_error",
            "param": None,
            "code": None,
        }
    }

    def _openai_models(self, body: dict, behavior: str) -> Response:
        return JSONResponse(
            {
                "object": "list",
                "data": [
                    {"id": m, "object": "model", "created": 1_700_000_000, "owned_by": "stub"}
                    for m in self.models
                ],
            }
        )

    def _openai_chat(self, body: dict, behavior: str) -> Response:
        tokens, prompt_n = self._tokens(body), _prompt_words(body)
        usage = {
            "prompt_tokens": prompt_n,
            "completion_tokens": len(tokens),
            "total_tokens": prompt_n + len(tokens),
        }
        head = {
            "id": f"chatcmpl-stub{len(self.requests)}",
            "created": int(time.time()),
            "model": body.get("model", ""),
            "system_fingerprint": "fp_stub",
        }
        if not body.get("stream"):
            message = {"role": "assistant", "content": "".join(tokens), "refusal": None}
            choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": "stop"}
            payload = {**head, "object": "chat.completion", "choices": [choice], "usage": usage}
            return self._json(behavior, payload, self._OPENAI_ERROR, len(tokens))
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        def event(choices: list, **extra: Any) -> bytes:
            obj = {**head, "object": "chat.completion.chunk", "choices": choices, **extra}
            if with_usage:
                obj.setdefault("usage", None)
            return b"data: " + _dumps(obj) + b"\n\n"

        def delta(d: dict, finish: str | None = None) -> bytes:
            return event([{"index": 0, "delta": d, "logprobs": None, "finish_reason": finish}])

        async def parts() -> AsyncIterator[bytes]:
            yield delta({"role": "assistant", "content": "", "refusal": None})
            async for part in self._emit(behavior, tokens, lambda t: delta({"content": t})):
                yield part
            yield delta({}, "stop")
            if with_usage:
                yield event([], usage=usage)
            yield b"data: [DONE]\n\n"

        return self._stream(behavior, self._OPENAI_ERROR, "text/event-stream", parts)

    def _openai_embeddings(self, body: dict, behavior: str) -> Response:
        raw = body.get("input", "")
        if isinstance(raw, str) or (raw and all(isinstance(x, int) for x in raw)):
            raw = [raw]  # one string, or one pre-tokenised list of ints
        texts = [x if isinstance(x, str) else " ".join(map(str, x)) for x in raw]
        dim = body.get("dimensions") or self.embedding_dim
        data = []
        for i, text in enumerate(texts):
            vec: Any = embed_text(text, dim)
            if body.get("encoding_format") == "base64":  # the openai client's default
                vec = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode()
            data.append({"object": "embedding", "index": i, "embedding": vec})
        n = sum(len(t.split()) for t in texts)
        payload = {
            "object": "list",
            "data": data,
            "model": body.get("model", ""),
            "usage": {"prompt_tokens": n, "total_tokens": n},
        }
        return self._json(behavior, payload, self._OPENAI_ERROR)
