"""Fakes for unit tests of the chain and the app: a tiny real Chroma, word-hash embeddings, fake models.

The index is real (Chroma on disk in a temp dir, cosine space, our owner metadata) so filters and
scores behave as in production; only the embedding model and the chat model are fakes.
"""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from rag_chain import RagResources
from rag_chain.retrieval import IndexReader
from rag_core.names import OWNER_KEY, SHARED_OWNER
from rag_core.settings import Settings, load_settings
from rag_core.vectorstore import make_vectorstore

from tests.support.llm_stub_server import embed_text

#: A small corpus about the fictional product, each with the metadata ingest would write.
CORPUS: list[tuple[str, str, str | None]] = [
    ("pricing.md", "The Team plan costs 12 euros per user per month. The Free plan is free.", None),
    (
        "setup.md",
        "Quillfeather listens on port 7420 by default. Change the port with --port.",
        None,
    ),
    ("errors.md", "Error QF-104 means the notebook is locked by another writer.", None),
    ("alice-notes.md", "Alice's private note: the vault passphrase hint is blue heron.", "alice"),
]


class WordHashEmbeddings(Embeddings):
    """Deterministic bag-of-words vectors: texts sharing words are close, unrelated ones are not."""

    def __init__(self, dim: int = 64) -> None:
        self.dim = dim

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [embed_text(t, self.dim) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return embed_text(text, self.dim)


class ExplodingChatModel(BaseChatModel):
    """A chat model that fails the test if anything calls it (proves the refusal skips the LLM)."""

    calls: int = 0

    @property
    def _llm_type(self) -> str:
        return "exploding"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        self.calls += 1
        raise AssertionError("the chat model must not be called")


def fake_chat_model(reply: str = "Twelve euros per user per month.") -> GenericFakeChatModel:
    """A streaming fake model that gives the same reply, word by word, every time."""
    return GenericFakeChatModel(messages=itertools.cycle([AIMessage(content=reply)]))


Corpus = list[tuple[str, str, str | None]]


def build_index(settings: Settings, embeddings: Embeddings, corpus: Corpus = CORPUS) -> None:
    """Write ``corpus`` into a fresh collection as ingest would (source, lines, owner)."""
    store = make_vectorstore(settings, embeddings, create=True)
    docs = [
        Document(
            page_content=text,
            metadata={
                "source": source,
                "start_line": 1,
                "end_line": 3,
                OWNER_KEY: owner or SHARED_OWNER,
            },
        )
        for source, text, owner in corpus
    ]
    store.add_documents(docs, ids=[source for source, _, _ in corpus])


def fake_resources(
    data_dir: Path,
    model: BaseChatModel | None = None,
    *,
    with_index: bool = True,
    corpus: Corpus = CORPUS,
    **overrides: Any,
) -> RagResources:
    """Resources over a temp Chroma holding CORPUS (or no collection) and a fake chat model.

    The refusal thresholds are the production defaults (RAG_SCORE_THRESHOLD, RAG_REFUSAL_THRESHOLD),
    so a unit test refuses exactly where the served settings would: CORPUS questions score >= 0.33
    on their chunk with WordHashEmbeddings, the off-domain ones below 0.26.
    """
    if overrides.get("score_threshold") == 0.0:
        # A test that turns the score threshold off means "never refuse": the evidence rule too.
        overrides.setdefault("refusal_threshold", 0.0)
    # These resources exist to test the chat-model path; extract-mode tests ask for "extract".
    overrides.setdefault("answer_mode", "generate")
    settings = load_settings(data_dir=data_dir, **overrides)
    embeddings = WordHashEmbeddings()
    if with_index:
        build_index(settings, embeddings, corpus)
    chat_model = model if model is not None else fake_chat_model()
    return RagResources(
        settings=settings,
        reader=IndexReader(settings, embeddings),
        chat_model_factory=lambda: chat_model,
    )


class SlowFakeChatModel(BaseChatModel):
    """Streams ``reply`` word by word, sleeping ``delay`` seconds before each word (a slow backend)."""

    reply: str = "Twelve euros per user per month."
    delay: float = 0.2

    @property
    def _llm_type(self) -> str:
        return "slow-fake"

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=AIMessage(content=self.reply))])

    async def _astream(
        self, messages: list[BaseMessage], *args: Any, **kwargs: Any
    ) -> AsyncIterator[ChatGenerationChunk]:
        for word in re.findall(r"\s*\S+", self.reply):
            await asyncio.sleep(self.delay)
            yield ChatGenerationChunk(message=AIMessageChunk(content=word))
