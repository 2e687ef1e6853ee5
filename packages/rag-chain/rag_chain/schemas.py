"""Input and output types of the chain, declared once for LangServe, the server and clients."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class Question(BaseModel):
    """What a client asks. Unknown fields are rejected so typos fail loudly."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(..., min_length=1, description="The question about your documents.")


class SourceCitation(BaseModel):
    """Where an answer comes from: file, page or line range, heading path, relevance, excerpt."""

    source: str
    page: int | None = None
    start_line: int | None = None
    end_line: int | None = None
    headings: str | None = None
    score: float
    snippet: str


class SentenceSupport(BaseModel):
    """One sentence of an extracted answer and exactly where it was copied from."""

    text: str
    source: str
    page: int | None = None
    start_line: int | None = None
    end_line: int | None = None


class DroppedSentence(BaseModel):
    """A sentence the model wrote that the sources do not support (``verified`` mode drops it)."""

    text: str
    reason: str


class RelevanceReport(BaseModel):
    """The evidence behind answering or refusing (see ``rag_chain.relevance``)."""

    best_score: float
    known_words: float
    evidence: float
    threshold: float


class ContextReport(BaseModel):
    """How the answer was made: mode, chunks in the context, refusal and its reason, supports
    (and, in ``verified`` mode, the dropped sentences and whether it fell back to an extract)."""

    answer_mode: str | None = None
    chunks_used: int = 0
    chunks_cut: list[str | None] = Field(default_factory=list)
    truncated: bool = False
    tokens: int = 0
    refused: bool = False
    refusal_reason: str | None = None
    relevance: RelevanceReport | None = None
    supports: list[SentenceSupport] | None = None
    dropped: list[DroppedSentence] | None = None
    fallback: str | None = None


class RagAnswer(BaseModel):
    """The chain's output; streamed as sources (and context) first, then answer pieces."""

    answer: str
    sources: list[SourceCitation]
    context: ContextReport | None = None


class ReadableRagAnswer(RagAnswer):
    """``/rag``'s output: the chain's, plus ``content``, the answer with its sources listed below
    as one text (what LangServe's playground shows; ``rag_chain.readable``)."""

    content: str = Field(
        "", description="The answer followed by its numbered sources, as one readable text."
    )
