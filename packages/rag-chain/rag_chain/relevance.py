"""Whether the documents can answer a question at all: the refusal decision, made before any model.

Why not a cosine threshold alone: the best cosine an off-domain question reaches depends on the
corpus (generic words of a networking library's docs are closer to "proxy for my Wi-Fi router"
than a note-taking manual is to anything). A threshold fitted to one corpus refused 0.67 of the
off-domain questions of another. What transfers is a second, corpus-relative signal read from
the lexical index built over the documents themselves: the share of the question's content words
that occur *anywhere* in the corpus. "How do I set up nginx as a reverse proxy for a Node.js app?"
shares "proxy" with an HTTP client's docs, but not "nginx", "node.js" or "reverse".

The rule (one default for every corpus, chosen on three evaluation sets, see README "Answer
quality"):

    evidence = best cosine of the retrieved chunks + KNOWN_WORDS_WEIGHT × share of known words
    refuse when evidence < RAG_REFUSAL_THRESHOLD (0.78), or the best cosine < RAG_SCORE_THRESHOLD

Once a question is answerable, a retrieved chunk is kept when either retriever vouches for it:
its cosine reaches ``RAG_SCORE_THRESHOLD`` or BM25 found it (an exact identifier match can have a
low cosine). The reason of a refusal, with every number, goes to ``context.refusal_reason``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rag_core.settings import Settings

from rag_chain.lexical import LexicalIndex, lexical_terms
from rag_chain.retrieval import ScoredChunk

#: Weight of the known-word share next to the best cosine (both in [0, 1]). Measured on the three
#: evaluation sets: 0.6 gave the widest plateau of thresholds that refuse every off-domain question
#: with no answerable one refused (0.775-0.795 with the current tokenizer; RAG_REFUSAL_THRESHOLD
#: defaults to its middle).
KNOWN_WORDS_WEIGHT = 0.6


@dataclass(frozen=True)
class Relevance:
    """The evidence for one question and the decision taken on it."""

    best_score: float
    known_words: float  # share of the question's content words found in the corpus
    evidence: float
    threshold: float
    refusal_reason: str | None

    def report(self) -> dict[str, Any]:
        """What ``context.relevance`` shows."""
        return {
            "best_score": round(self.best_score, 4),
            "known_words": round(self.known_words, 3),
            "evidence": round(self.evidence, 4),
            "threshold": self.threshold,
        }


def known_share(question: str, lexical: LexicalIndex) -> float:
    """Share of the question's distinct content words that occur in at least one chunk."""
    terms = set(lexical_terms(question))
    if not terms:
        return 0.0
    return sum(term in lexical.doc_freq for term in terms) / len(terms)


def judge(
    question: str, hits: list[ScoredChunk], lexical: LexicalIndex, settings: Settings
) -> tuple[list[ScoredChunk], Relevance]:
    """The chunks to answer from (empty: refuse) and the evidence behind the decision."""
    best = max((hit.score for hit in hits), default=0.0)
    known = known_share(question, lexical)
    evidence = best + KNOWN_WORDS_WEIGHT * known
    threshold = settings.refusal_threshold
    reason = None
    if not hits:
        reason = "nothing was retrieved"
    elif best < settings.score_threshold:
        reason = (
            f"the best chunk's relevance {best:.2f} is below RAG_SCORE_THRESHOLD="
            f"{settings.score_threshold:g}"
        )
    elif evidence < threshold:
        reason = (
            f"evidence {evidence:.2f} (best relevance {best:.2f} + {KNOWN_WORDS_WEIGHT:g} × "
            f"{known:.0%} of the question's words found in the documents) is below "
            f"RAG_REFUSAL_THRESHOLD={threshold:g}"
        )
    relevance = Relevance(best, known, evidence, threshold, reason)
    if reason is not None:
        return [], relevance
    kept = [h for h in hits if h.score >= settings.score_threshold or h.lexical > 0]
    return kept, relevance
