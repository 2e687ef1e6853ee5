"""The baseline every answer-speed figure is divided by: raw ``llama_cpp.Llama`` on the same prompt.

Same GGUF, same context window and thread default as the server, temperature 0, the same
``max_tokens`` and repeat penalty (read from the model the server builds), and the very messages the chain sends: the context is retrieved with the same
``IndexReader`` and threshold, budgeted with the same helpers and filled into ``RAG_PROMPT``. The
time that retrieval and budgeting take is measured too, because the server must do that work before
its first token, so the baseline time to first token is retrieval + raw llama.cpp.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from langchain_core.embeddings import Embeddings
from rag_chain.budget import SAFETY_MARGIN, fit_context
from rag_chain.llamacpp import bundled_gguf_path
from rag_chain.prompts import RAG_PROMPT
from rag_chain.retrieval import IndexReader
from rag_core.settings import Settings

from bench.streams import StreamTiming

_ROLES = {"human": "user", "ai": "assistant", "system": "system"}


@dataclass
class PreparedPrompt:
    """Chat messages for one question, and the seconds retrieval + budgeting took."""

    messages: list[dict[str, str]]
    retrieval_seconds: float
    chunks: int


class RawLlama:
    """One ``Llama`` loaded in the benchmark process, plus the retrieval the chain would do."""

    def __init__(self, settings: Settings, embeddings: Embeddings) -> None:
        from llama_cpp import Llama
        from rag_chain.llm import make_chat_model

        served = make_chat_model(settings)  # built, not loaded: only its sampling parameters
        self.repeat_penalty = float(getattr(served, "repeat_penalty", 1.0))
        self.settings = settings
        self.reader = IndexReader(settings, embeddings)
        self.llama: Any = Llama(
            model_path=settings.llm_model or bundled_gguf_path(),
            n_ctx=settings.llm_context_window,
            n_threads=settings.llm_threads,
            verbose=False,
        )

    def count_tokens(self, text: str) -> int:
        """Tokens of ``text`` with the model's tokenizer (used for every subject's tok/s)."""
        return len(self.llama.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def prepare(self, question: str) -> PreparedPrompt:
        """Retrieve, threshold and budget the context as the chain does; build its messages."""
        started = time.perf_counter()
        hits = self.reader.search(question, self.settings.top_k)
        relevant = [h for h in hits if h.score >= self.settings.score_threshold]
        overhead = self.count_tokens(RAG_PROMPT.format(context="", question=question))
        budget = (
            self.settings.llm_context_window
            - self.settings.llm_max_tokens
            - overhead
            - SAFETY_MARGIN
        )
        fitted = fit_context(relevant, budget_tokens=budget, count=self.count_tokens)
        seconds = time.perf_counter() - started
        messages = [
            {"role": _ROLES.get(m.type, "user"), "content": str(m.content)}
            for m in RAG_PROMPT.format_messages(context=fitted.text, question=question)
        ]
        return PreparedPrompt(messages, seconds, len(fitted.used))

    def stream(self, prompt: PreparedPrompt) -> StreamTiming:
        """Generate with ``create_chat_completion(stream=True)`` and time the tokens."""
        timing = StreamTiming(time.perf_counter())
        parts = self.llama.create_chat_completion(
            messages=prompt.messages,
            stream=True,
            temperature=0.0,
            max_tokens=self.settings.llm_max_tokens,
            repeat_penalty=self.repeat_penalty,
            stop=[],
        )
        for part in parts:
            timing.piece(part["choices"][0]["delta"].get("content") or "")
        return timing
