"""Hybrid retrieval: BM25 finds the exact identifier a dense model misses, and the lexical index
follows the vector store through incremental ingest, replaced files, ``--prune`` and private users.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from langchain_core.embeddings import Embeddings
from rag_chain.lexical import lexical_terms
from rag_chain.retrieval import IndexReader
from rag_core.names import SHARED_OWNER
from rag_core.settings import Settings, load_settings

from ingest.indexer import Ingestor
from tests.support.fakes import WordHashEmbeddings, build_index
from tests.support.llm_stub_server import embed_text


class BlindToCodes(Embeddings):
    """A dense model that cannot see identifiers with digits (as MiniLM blurs ``QF-219``)."""

    def _embed(self, text: str) -> list[float]:
        return embed_text(re.sub(r"\S*\d\S*", " ", text), 64)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self._embed(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._embed(text)


ERRORS = [
    (
        "qf-101.md",
        "Error QF-101 means the error log of the notebook is full, error after error.",
        None,
    ),
    ("qf-102.md", "Error QF-102 means the error queue of the notebook overflowed.", None),
    ("qf-103.md", "Error QF-103 means an error in the notebook error handler.", None),
    ("qf-219.md", "QF-219: the disk holding the vault is full.", None),
]
QUESTION = "What does error QF-219 mean?"


def _reader(tmp_path: Path, **overrides: object) -> IndexReader:
    settings = load_settings(data_dir=tmp_path / "data", score_threshold=0.0, **overrides)
    build_index(settings, BlindToCodes(), ERRORS)
    return IndexReader(settings, BlindToCodes())


def test_bm25_finds_the_exact_identifier_that_dense_misses(tmp_path: Path) -> None:
    dense = _reader(tmp_path / "dense", hybrid=False).search(QUESTION, 3)
    assert "qf-219.md" not in [c.document.metadata["source"] for c in dense]

    hybrid = {
        c.document.metadata["source"]: c for c in _reader(tmp_path / "hybrid").search(QUESTION, 3)
    }
    assert "qf-219.md" in hybrid
    found = hybrid["qf-219.md"]
    assert found.lexical > 0
    # its score is still the cosine of its stored vector, as for dense hits
    expected = BlindToCodes().embed_query(QUESTION)
    stored = BlindToCodes().embed_query(ERRORS[3][1])
    cosine = sum(a * b for a, b in zip(expected, stored, strict=True))
    assert abs(found.score - max(0.0, cosine)) < 1e-5


def test_identifiers_are_indexed_whole_and_in_parts() -> None:
    terms = lexical_terms("Set `http.port` or raise TimeoutException (QF-104).")
    assert {"http.port", "http", "port", "timeoutexception", "timeout", "exception"} <= set(terms)
    assert {"qf-104", "qf", "104"} <= set(terms)
    assert "or" not in terms  # stop words are not indexed


def _ingest(
    settings: Settings, folder: Path, *, user: str | None = None, prune: bool = False
) -> None:
    report = Ingestor(settings, user=user, embeddings=WordHashEmbeddings()).run(
        [folder], prune=prune, progress=False
    )
    assert not report.failed, report.failed


def _lexical_sources(reader: IndexReader, question: str, user: str | None = None) -> set[str]:
    return {
        c.document.metadata["source"] for c in reader.search(question, 5, user) if c.lexical > 0
    }


def test_the_lexical_index_follows_incremental_ingest_and_prune(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "codes.md").write_text("# Codes\n\nThe vault is sealed by zanzibar.\n")
    (docs / "other.md").write_text("# Other\n\nNothing about errors here.\n")
    settings = load_settings(data_dir=tmp_path / "data", score_threshold=0.0)
    _ingest(settings, docs)
    reader = IndexReader(settings, WordHashEmbeddings())
    reader.REFRESH_SECONDS = 0.0
    assert _lexical_sources(reader, "zanzibar") == {"codes.md"}

    (docs / "codes.md").write_text("# Codes\n\nThe vault is opened by kilimanjaro.\n")
    _ingest(settings, docs)
    assert _lexical_sources(reader, "zanzibar") == set(), "the replaced chunk is gone"
    assert _lexical_sources(reader, "kilimanjaro") == {"codes.md"}

    (docs / "codes.md").unlink()
    _ingest(settings, docs, prune=True)
    assert _lexical_sources(reader, "kilimanjaro") == set(), "the pruned file is gone"
    assert len(reader.lexical()) == reader.count()


def test_private_documents_are_found_lexically_by_their_owner_only(tmp_path: Path) -> None:
    private = tmp_path / "alice"
    private.mkdir()
    (private / "diary.md").write_text("# Diary\n\nThe vault code is heron-42.\n")
    settings = load_settings(data_dir=tmp_path / "data", score_threshold=0.0)
    _ingest(settings, private, user="alice")
    reader = IndexReader(settings, WordHashEmbeddings())
    assert _lexical_sources(reader, "heron-42", "alice") == {"diary.md"}
    assert _lexical_sources(reader, "heron-42", "bob") == set()
    assert _lexical_sources(reader, "heron-42") == set()


def test_a_store_read_failing_mid_ingest_costs_only_the_bm25_only_hits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Seen with rag-ingest writing the embedded store: 'Error finding id' on a fresh chunk.

    Twelve more error pages push qf-219.md out of the dense side's candidates, so only BM25
    finds it and its vector must be read from the store: that read fails here.
    """
    more = [
        (f"qf-{i}.md", f"Error QF-{i} means an error in the error log.", None)
        for i in range(110, 122)
    ]
    settings = load_settings(data_dir=tmp_path / "data", score_threshold=0.0)
    build_index(settings, BlindToCodes(), ERRORS + more)
    reader = IndexReader(settings, BlindToCodes())
    found = reader.search(QUESTION, 10)
    before = [c.document.metadata["source"] for c in found]
    assert "qf-219.md" in before
    store = reader.store()
    assert store is not None
    asked: list[str] = []

    def failing_get(**kwargs: object) -> dict:  # type: ignore[type-arg]
        asked.extend(kwargs.get("ids") or [])  # type: ignore[call-overload]
        raise RuntimeError("Error executing plan: Internal error: Error finding id")

    monkeypatch.setattr(store, "get", failing_get)
    after = [c.document.metadata["source"] for c in reader.search(QUESTION, 10)]
    # The chunks whose vectors had to be read are the BM25-only ones (qf-219.md among them; the
    # dense side's ties between identical vectors decide whether another one is too).
    skipped = {c.document.metadata["source"] for c in found if c.document.id in asked}
    assert "qf-219.md" in skipped
    assert after == [source for source in before if source not in skipped]


def test_lexical_search_masks_other_owners_and_skips_the_mask_when_all_are_visible() -> None:
    """With shared and private chunks, a caller sees only their owners'; one who may see every
    owner gets every chunk (the search then runs without a mask)."""
    from rag_chain.lexical import LexicalDoc, LexicalIndex

    index = LexicalIndex(
        [
            LexicalDoc("s1", SHARED_OWNER, tuple(lexical_terms("heron nest on the shared shore"))),
            LexicalDoc("a1", "alice", tuple(lexical_terms("heron code for alice only"))),
            LexicalDoc("b1", "bob", tuple(lexical_terms("heron diary of bob"))),
        ]
    )
    assert {i for i, _ in index.search("heron", 5, {SHARED_OWNER})} == {"s1"}
    assert {i for i, _ in index.search("heron", 5, {SHARED_OWNER, "alice"})} == {"s1", "a1"}
    assert {i for i, _ in index.search("heron", 5, {SHARED_OWNER, "alice", "bob"})} == {
        "s1",
        "a1",
        "b1",
    }
