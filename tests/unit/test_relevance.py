"""The refusal rule: best cosine + 0.6 x share of the question's words known to the corpus."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document
from rag_chain.lexical import LexicalDoc, LexicalIndex, indexed_text, lexical_terms
from rag_chain.relevance import KNOWN_WORDS_WEIGHT, judge, known_share
from rag_chain.retrieval import ScoredChunk
from rag_core.settings import load_settings

TEXTS = [
    "Configure the proxy with the proxy argument of the Client.",
    "A timeout is raised after 5 seconds of network inactivity.",
    "Install the socks extra to use a SOCKS proxy.",
]


def _index() -> LexicalIndex:
    return LexicalIndex(
        [
            LexicalDoc(str(i), "_shared", tuple(lexical_terms(indexed_text(t, None, "docs.md"))))
            for i, t in enumerate(TEXTS)
        ]
    )


def _hit(score: float, lexical: float = 0.0, text: str = TEXTS[0]) -> ScoredChunk:
    return ScoredChunk(Document(page_content=text, metadata={"source": "docs.md"}), score, lexical)


def test_known_share_counts_distinct_content_words() -> None:
    lexical = _index()
    assert known_share("How do I configure a proxy?", lexical) == 1.0  # configure, proxy
    assert known_share("How long should I boil eggs?", lexical) == 0.0  # long, boil, egg
    assert known_share("Which proxy for my Wi-Fi router?", lexical) == pytest.approx(1 / 5)


@pytest.fixture
def settings(tmp_path: Path):  # type: ignore[no-untyped-def]
    return load_settings(data_dir=tmp_path, score_threshold=0.26, refusal_threshold=0.78)


def test_an_off_domain_question_is_refused_even_when_its_cosine_passes(settings) -> None:  # type: ignore[no-untyped-def]
    question = "How do I set up a proxy for my home Wi-Fi router?"
    chunks, relevance = judge(question, [_hit(0.46)], _index(), settings)
    assert chunks == []
    share = known_share(question, _index())
    assert relevance.evidence == pytest.approx(0.46 + KNOWN_WORDS_WEIGHT * share)
    assert relevance.refusal_reason == (
        f"evidence {0.46 + KNOWN_WORDS_WEIGHT * share:.2f} (best relevance 0.46 + 0.6 × "
        f"{share:.0%} of the question's words found in the documents) is below "
        "RAG_REFUSAL_THRESHOLD=0.78"
    )


def test_the_same_cosine_answers_a_question_in_the_documents_words(settings) -> None:  # type: ignore[no-untyped-def]
    chunks, relevance = judge("How do I configure the proxy?", [_hit(0.46)], _index(), settings)
    assert len(chunks) == 1 and relevance.refusal_reason is None
    assert relevance.report() == {
        "best_score": 0.46,
        "known_words": 1.0,
        "evidence": 1.06,
        "threshold": 0.78,
    }


def test_a_best_chunk_below_the_score_threshold_is_refused(settings) -> None:  # type: ignore[no-untyped-def]
    chunks, relevance = judge("configure proxy", [_hit(0.2)], _index(), settings)
    assert chunks == []
    assert relevance.refusal_reason == (
        "the best chunk's relevance 0.20 is below RAG_SCORE_THRESHOLD=0.26"
    )


def test_a_low_cosine_chunk_that_bm25_found_is_kept(settings) -> None:  # type: ignore[no-untyped-def]
    hits = [_hit(0.6), _hit(0.1, lexical=3.2, text=TEXTS[2]), _hit(0.1)]
    chunks, _ = judge("Which extra for a SOCKS proxy?", hits, _index(), settings)
    assert [c.document.page_content for c in chunks] == [TEXTS[0], TEXTS[2]]


def test_nothing_retrieved_is_refused_with_its_reason(settings) -> None:  # type: ignore[no-untyped-def]
    chunks, relevance = judge("configure proxy", [], _index(), settings)
    assert chunks == [] and relevance.refusal_reason == "nothing was retrieved"
