"""The grounded RAG chain: retrieve → refuse or generate → answer with sources first.

Built from named, importable pieces so clients and other chains can compose them:

- ``retrieve``: ``{"question"}`` → the question plus scored chunks that pass the relevance threshold;
- ``format_sources``: scored chunks → the public citation dicts;
- ``refuse_or_generate``: streams ``{"sources", "context"}`` first, then ``{"answer": token}`` pieces.
  With no relevant chunk it answers the exact refusal sentence *without calling the model*: a tiny
  model cannot be trusted to refuse by itself, so the decision is made on retrieval evidence;
- ``retriever``: ``{"question"}`` → the citations the chain would give (published as ``/retriever``).

The chain knows nothing of HTTP. Resources (index, model) come from a provider called on first use,
so importing ``chain`` is cheap and the server decides when to load them (its lifespan).
Per-request values arrive in ``config["configurable"]``: ``k`` (clamped to RAG_MAX_TOP_K) and
``rag_user`` (whose private documents may be searched), which only the server sets.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import (
    Runnable,
    RunnableConfig,
    RunnableGenerator,
    RunnableLambda,
)
from langchain_core.runnables.utils import AddableDict
from rag_core.embeddings import make_query_embeddings
from rag_core.settings import REFUSAL, Settings, answer_mode_of, get_settings

from rag_chain.budget import SAFETY_MARGIN, FittedContext, fit_context, token_counter
from rag_chain.extract import extract_answer, render
from rag_chain.llama_supervisor import WorkerStatus
from rag_chain.llamacpp import LlamaCppChatModel
from rag_chain.llm import make_chat_model
from rag_chain.prompts import RAG_PROMPT
from rag_chain.relevance import Relevance, judge
from rag_chain.retrieval import IndexReader, ScoredChunk
from rag_chain.schemas import Question, RagAnswer, SourceCitation
from rag_chain.verify import VerifiedAnswer

log = logging.getLogger("rag.chain")

USER_KEY = "rag_user"


@dataclass
class RagResources:
    """What the chain needs at run time; tests build one with fakes."""

    settings: Settings
    reader: IndexReader
    chat_model_factory: Callable[[], BaseChatModel]
    _chat_model: BaseChatModel | None = field(default=None, init=False)

    @property
    def chat_model(self) -> BaseChatModel:
        """The chat model, built once on first use."""
        if self._chat_model is None:
            self._chat_model = self.chat_model_factory()
        return self._chat_model

    def warm(self) -> None:
        """Open the index and load the model now, so the first request pays nothing.

        The index is opened first: a model that cannot load raises here (``ModelUnavailable``),
        and the server then stays up to answer ``/retriever``, ``/health`` and ``/ready``.
        """
        model = self.chat_model
        start = getattr(model, "start", None)
        if callable(start):  # the worker loads the model while the index opens
            start()
        self.reader.store()
        load = getattr(model, "load", None)
        if callable(load):
            load()

    def worker_status(self) -> WorkerStatus | None:
        """The embedded model's worker (state, pid, restarts, crashes); None for other backends."""
        model = self.chat_model
        return model.worker_status() if isinstance(model, LlamaCppChatModel) else None

    def tokens_generated(self) -> int | None:
        """Tokens the embedded model produced so far (None for backends that do not count)."""
        model = self._chat_model
        generated = getattr(model, "tokens_generated", None)
        return generated if isinstance(generated, int) else None

    def close(self) -> None:
        """Release what the model holds (the embedded model's worker process)."""
        model = self._chat_model
        close = getattr(model, "close", None)
        if callable(close):
            close()


def resources_from_settings(settings: Settings) -> RagResources:
    """Real resources: embeddings, index reader and chat model chosen by the settings."""
    return RagResources(
        settings=settings,
        reader=IndexReader(settings, lambda: make_query_embeddings(settings)),
        chat_model_factory=lambda: make_chat_model(settings),
    )


@lru_cache(maxsize=1)
def default_resources() -> RagResources:
    """Process-wide resources built from the environment's settings."""
    return resources_from_settings(get_settings())


ResourceProvider = Callable[[], RagResources]


def _question_of(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, Question):
        return value.question
    if isinstance(value, dict) and isinstance(value.get("question"), str):
        return value["question"]
    raise ValueError('input must be {"question": "<text>"}')


def _requested_k(config: RunnableConfig | None, settings: Settings) -> int:
    raw = ((config or {}).get("configurable") or {}).get("k", settings.top_k)
    try:
        k = int(raw)
    except (TypeError, ValueError):
        k = settings.top_k
    return max(1, min(k, settings.max_top_k))


def _user_of(config: RunnableConfig | None) -> str | None:
    user = ((config or {}).get("configurable") or {}).get(USER_KEY)
    return user if isinstance(user, str) and user else None


def format_sources(chunks: list[ScoredChunk]) -> list[dict[str, Any]]:
    """Citation dicts for the chunks, in rank order."""
    return [chunk.citation() for chunk in chunks]


def make_retrieve(provider: ResourceProvider) -> Runnable:
    """``{"question"}`` → ``{"question", "chunks", "relevance"}``: the chunks to answer from, none
    when the documents cannot answer (:mod:`rag_chain.relevance` decides, with its reason)."""

    def retrieve(value: Any, config: RunnableConfig) -> dict[str, Any]:
        res = provider()
        question = _question_of(value)
        hits = res.reader.search(question, _requested_k(config, res.settings), _user_of(config))
        chunks, relevance = judge(question, hits, res.reader.lexical(), res.settings)
        return {"question": question, "chunks": chunks, "relevance": relevance}

    async def aretrieve(value: Any, config: RunnableConfig) -> dict[str, Any]:
        from langchain_core.runnables.config import run_in_executor

        return await run_in_executor(config, retrieve, value, config)

    return RunnableLambda(retrieve, afunc=aretrieve, name="retrieve")


def _fit(res: RagResources, question: str, chunks: list[ScoredChunk]) -> FittedContext:
    count = token_counter(res.chat_model)
    overhead = count(RAG_PROMPT.format(context="", question=question)) + SAFETY_MARGIN
    budget = res.settings.llm_context_window - res.settings.llm_max_tokens - overhead
    fitted = fit_context(chunks, budget_tokens=budget, count=count)
    if fitted.cut or fitted.truncated:
        log.warning("context budget: %s", fitted.report())
    return fitted


@dataclass
class AnswerPlan:
    """What the chain will stream for one question, decided before the first chunk goes out."""

    head: AddableDict  # sources and context: always the first chunk
    fitted: FittedContext | None = None  # set: the chat model answers from this context
    pieces: list[str] = field(default_factory=list)  # set: the answer, already known

    @property
    def needs_model(self) -> bool:
        """Whether the chat model must be called (generate mode with something to say)."""
        return self.fitted is not None


def _refusal(context: dict[str, Any], reason: str) -> AnswerPlan:
    return AnswerPlan(
        AddableDict(sources=[], context={**context, "refused": True, "refusal_reason": reason}),
        pieces=[REFUSAL],
    )


def plan_answer(
    res: RagResources,
    question: str,
    chunks: list[ScoredChunk],
    relevance: Relevance | None = None,
) -> AnswerPlan:
    """Refuse, extract or prepare generation: the whole decision, with its reason in ``context``."""
    mode = answer_mode_of(res.settings)
    evidence = {"relevance": relevance.report()} if relevance is not None else {}
    if not chunks:
        reason = relevance.refusal_reason if relevance is not None else None
        return _refusal(
            {"chunks_used": 0, "answer_mode": mode, **evidence}, reason or "nothing was retrieved"
        )
    if mode != "generate":
        # extract answers with these; verified falls back on them, so it refuses without them too
        extracts = extract_answer(chunks, question)
        if not extracts:
            context: dict[str, Any] = {"chunks_used": len(chunks), "answer_mode": mode, **evidence}
            return _refusal(context, "no sentence of the sources matches the question")
        if mode == "extract":
            cited = sorted({e.rank for e in extracts})
            context = {
                "chunks_used": len(chunks),
                "answer_mode": mode,
                **evidence,
                "supports": [e.support() for e in extracts],
            }
            sources = format_sources([chunks[rank - 1] for rank in cited])
            return AnswerPlan(
                AddableDict(sources=sources, context=context), pieces=render(extracts)
            )
    fitted = _fit(res, question, chunks)
    report = {**fitted.report(), "answer_mode": mode, **evidence}
    if not fitted.used:
        # No room for even one chunk (RAG_LLM_MAX_TOKENS near the window): never answer blind.
        return _refusal(report, "no chunk fits the model's context window")
    # An AddableDict context: verified mode streams the rest of it (supports, dropped) at the end.
    head = AddableDict(sources=format_sources(fitted.used), context=AddableDict(report))
    return AnswerPlan(head, fitted)


def _answer_chunks(plan: AnswerPlan, question: str, tokens: Iterator[str]) -> Iterator[AddableDict]:
    """The model's tokens as answer chunks: as they come, or sentence by sentence once verified."""
    if plan.head["context"].get("answer_mode") != "verified":
        yield from (AddableDict(answer=token) for token in tokens)
        return
    assert plan.fitted is not None
    verified = VerifiedAnswer(question, plan.fitted.used)
    for token in tokens:
        yield from verified.feed(token)
    yield from verified.finish()


async def _aanswer_chunks(
    plan: AnswerPlan, question: str, tokens: AsyncIterator[str]
) -> AsyncIterator[AddableDict]:
    """Async twin of :func:`_answer_chunks`."""
    if plan.head["context"].get("answer_mode") != "verified":
        async for token in tokens:
            yield AddableDict(answer=token)
        return
    assert plan.fitted is not None
    verified = VerifiedAnswer(question, plan.fitted.used)
    async for token in tokens:
        for piece in verified.feed(token):
            yield piece
    for piece in verified.finish():
        yield piece


def make_refuse_or_generate(provider: ResourceProvider) -> Runnable:
    """Stream sources first, then the refusal or the extract (no LLM call), or the model's answer
    (in ``verified`` mode only its supported sentences, then the final context)."""

    def plan(value: dict[str, Any]) -> AnswerPlan:
        return plan_answer(provider(), value["question"], value["chunks"], value.get("relevance"))

    def generate(inputs: Iterator[dict[str, Any]], config: RunnableConfig) -> Iterator[AddableDict]:
        for value in inputs:
            answer = plan(value)
            yield answer.head
            if answer.fitted is None:
                yield from (AddableDict(answer=piece) for piece in answer.pieces)
                continue
            answerer = RAG_PROMPT | provider().chat_model | StrOutputParser()
            prompt_input = {"context": answer.fitted.text, "question": value["question"]}
            tokens = answerer.stream(prompt_input, config)
            yield from _answer_chunks(answer, value["question"], tokens)

    async def agenerate(
        inputs: AsyncIterator[dict[str, Any]], config: RunnableConfig
    ) -> AsyncIterator[AddableDict]:
        from langchain_core.runnables.config import run_in_executor

        async for value in inputs:
            # Budgeting asks the model's tokenizer (the worker process, for llama.cpp): a blocking
            # round trip that belongs on a thread, not on the event loop.
            answer = await run_in_executor(config, plan, value)
            yield answer.head
            if answer.fitted is None:
                for text in answer.pieces:
                    yield AddableDict(answer=text)
                continue
            answerer = RAG_PROMPT | provider().chat_model | StrOutputParser()
            prompt_input = {"context": answer.fitted.text, "question": value["question"]}
            tokens = answerer.astream(prompt_input, config)
            async for chunk in _aanswer_chunks(answer, value["question"], tokens):
                yield chunk

    return RunnableGenerator(generate, agenerate, name="refuse_or_generate")  # type: ignore[arg-type]


def build_chain(provider: ResourceProvider = default_resources) -> Runnable:
    """The full chain, typed so LangServe publishes readable schemas and validates input."""
    retrieve = make_retrieve(provider)
    answer = make_refuse_or_generate(provider)
    return (retrieve | answer).with_types(input_type=Question, output_type=RagAnswer)


def build_retriever(provider: ResourceProvider = default_resources) -> Runnable:
    """Question → the citations the chain would give, for clients that compose their own chain."""
    citations: Runnable = RunnableLambda(
        lambda v: format_sources(v["chunks"]), name="format_sources"
    )
    return (make_retrieve(provider) | citations).with_types(
        input_type=Question,
        output_type=list[SourceCitation],  # type: ignore[arg-type]
    )


chain = build_chain()
retriever = build_retriever()
