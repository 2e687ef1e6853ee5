"""Conversations: follow-up questions rewritten into standalone ones before retrieval.

Retrieval only sees the question, so "and how much does it cost?" finds nothing on its own. With a
history, :func:`make_condense_question` asks the chat model (``CONDENSE_PROMPT``) for one standalone
question and the grounded chain runs on that; without history the question is used as is and the
model is not called. :func:`build_chat_chain` packages this for LangServe's chat playground
(``{"messages": [...]}`` in, answer text out). Where the history comes from (a database, the
client) is the caller's business: this module knows nothing of HTTP or storage.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any, Literal

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.runnables import Runnable, RunnableConfig, RunnableGenerator, RunnableLambda
from pydantic import BaseModel, Field

from rag_chain.chain import ResourceProvider, build_chain, default_resources
from rag_chain.prompts import CONDENSE_PROMPT

#: Most recent messages shown to the model when condensing (small models have small windows).
HISTORY_MESSAGES = 6
#: Each past message is cut to this many characters in the condensing prompt.
MESSAGE_CHARS = 600
#: A rewrite longer than this many times the follow-up (plus slack) is rambling: keep the original.
MAX_GROWTH = 4


class ChatTurn(BaseModel):
    """One past message of a conversation."""

    role: Literal["user", "assistant"]
    content: str


class ChatInput(BaseModel):
    """Input of the chat playground: the whole conversation, the last human message is the question."""

    messages: list[HumanMessage | AIMessage | SystemMessage] = Field(
        ..., description="The conversation so far; the last human message is the question."
    )


Turn = ChatTurn | BaseMessage | dict[str, Any]


def _as_turn(item: Turn) -> ChatTurn | None:
    if isinstance(item, ChatTurn):
        return item
    if isinstance(item, BaseMessage):
        role = {"human": "user", "ai": "assistant"}.get(item.type)
        return ChatTurn(role=role, content=item.text) if role else None  # type: ignore[arg-type]
    return ChatTurn.model_validate(item)


def format_history(history: Sequence[Turn]) -> str:
    """The last turns as "User: …" / "Assistant: …" lines, cut to fit a small model's window."""
    turns = [t for t in (_as_turn(item) for item in history) if t is not None]
    lines = []
    for turn in turns[-HISTORY_MESSAGES:]:
        text = " ".join(turn.content.split())
        if len(text) > MESSAGE_CHARS:
            text = text[:MESSAGE_CHARS] + "…"
        lines.append(f"{'User' if turn.role == 'user' else 'Assistant'}: {text}")
    return "\n".join(lines)


def clean_standalone(raw: str, question: str, previous: str | None = None) -> str:
    """The model's rewrite without labels or quotes, if it is a question of sensible length.

    Otherwise (tiny models often answer instead of rewriting) the follow-up is joined to the
    previous user question: crude, but retrieval then sees what "it" refers to.
    """
    text = raw.strip().splitlines()[0].strip() if raw.strip() else ""
    for label in ("standalone question:", "question:"):
        if text.lower().startswith(label):
            text = text[len(label) :].strip()
    text = text.strip("\"'` ")
    if (
        text.endswith("?")
        and len(text) <= MAX_GROWTH * len(question) + 200
        and _keeps_a_word_of(question, text)
    ):
        return text
    return f"{previous.rstrip()} {question}" if previous else question


def _keeps_a_word_of(question: str, rewrite: str) -> bool:
    """Whether the rewrite kept something of the follow-up (a word of 4+ letters, if it has one)."""
    words = {w for w in re.findall(r"\w{4,}", question.lower())}
    return not words or any(w in rewrite.lower() for w in words)


def _previous_question(history: Sequence[Turn]) -> str | None:
    turns = [t for t in (_as_turn(item) for item in history) if t is not None]
    return next((t.content for t in reversed(turns) if t.role == "user"), None)


def _split_input(value: Any) -> tuple[str, list[Turn]]:
    if isinstance(value, dict) and isinstance(value.get("question"), str):
        return value["question"], list(value.get("history") or [])
    raise ValueError('input must be {"question": "<text>", "history": [...]}')


def make_condense_question(provider: ResourceProvider = default_resources) -> Runnable:
    """``{"question", "history"}`` → a standalone question (no model call without history)."""

    def prompt_input(question: str, history: list[Turn]) -> dict[str, str] | None:
        text = format_history(history)
        return {"history": text, "question": question} if text else None

    def rewriter() -> Runnable:
        return CONDENSE_PROMPT | provider().chat_model.bind(stop=["\n"]) | StrOutputParser()

    def condense(value: Any, config: RunnableConfig) -> str:
        question, history = _split_input(value)
        inputs = prompt_input(question, history)
        if inputs is None:
            return question
        raw = rewriter().invoke(inputs, config)
        return clean_standalone(raw, question, _previous_question(history))

    async def acondense(value: Any, config: RunnableConfig) -> str:
        question, history = _split_input(value)
        inputs = prompt_input(question, history)
        if inputs is None:
            return question
        raw = await rewriter().ainvoke(inputs, config)
        return clean_standalone(raw, question, _previous_question(history))

    return RunnableLambda(condense, afunc=acondense, name="condense_question")


def _from_messages(value: Any) -> dict[str, Any]:
    messages = value.messages if isinstance(value, ChatInput) else (value or {}).get("messages")
    if not messages:
        raise ValueError('input must be {"messages": [...]} ending with a human message')
    parsed = ChatInput.model_validate({"messages": list(messages)}).messages
    last = parsed[-1]
    if not isinstance(last, HumanMessage) or not last.text.strip():
        raise ValueError("the last message must be a non-empty human message (the question)")
    return {"question": last.text, "history": parsed[:-1]}


def _sources_footer(sources: list[dict[str, Any]]) -> str:
    if not sources:
        return ""
    names = []
    for source in sources:
        where = source.get("source", "")
        if source.get("page") is not None:
            where += f" p. {source['page']}"
        elif source.get("start_line") is not None:
            where += f" lines {source['start_line']}-{source.get('end_line')}"
        names.append(where)
    return "\n\nSources: " + "; ".join(dict.fromkeys(names))


def build_chat_chain(provider: ResourceProvider = default_resources) -> Runnable:
    """Messages → condensed question → grounded answer text with a sources line (chat playground)."""
    condense = make_condense_question(provider)
    rag = build_chain(provider)

    def answer_text(chunks: Iterator[dict[str, Any]]) -> Iterator[str]:
        sources: list[dict[str, Any]] = []
        for chunk in chunks:
            sources = chunk.get("sources", sources)
            if chunk.get("answer"):
                yield chunk["answer"]
        if footer := _sources_footer(sources):
            yield footer

    async def aanswer_text(chunks: AsyncIterator[dict[str, Any]]) -> AsyncIterator[str]:
        sources: list[dict[str, Any]] = []
        async for chunk in chunks:
            sources = chunk.get("sources", sources)
            if chunk.get("answer"):
                yield chunk["answer"]
        if footer := _sources_footer(sources):
            yield footer

    standalone = RunnableLambda(_from_messages, name="split_messages") | condense
    as_question: Runnable = RunnableLambda(lambda q: {"question": q}, name="as_question")
    text = RunnableGenerator(answer_text, aanswer_text, name="answer_text")
    # A name of its own: LangServe registers schemas by name, and "RunnableSequenceOutput" is taken.
    chat = standalone | as_question | rag | text
    chat.name = "RagChat"
    return chat.with_types(
        input_type=ChatInput,
        output_type=str,  # type: ignore[arg-type]
    )
