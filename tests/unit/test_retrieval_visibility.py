"""Retrieval skips Chroma's slow metadata filter when it can, and still never leaks.

``IndexReader.search`` first asks for the unfiltered top hits and keeps the caller's; when another
user's private chunks crowd them out it must fall back to the filtered query. Either way the
result must equal what the filtered query alone returns.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.documents import Document
from rag_chain.retrieval import OVERFETCH, _visible_top_k, owner_filter
from rag_core.names import OWNER_KEY, SHARED_OWNER

from tests.support.fakes import fake_resources

QUESTION = "secret vault code"
SHARED = [(f"shared-{i}.md", f"Shared page {i} about pricing and ports.", None) for i in range(3)]
# Many of bob's chunks match the question better than anything alice may see.
BOB = [(f"bob-{i}.md", f"The secret vault code number {i}.", "bob") for i in range(20)]
ALICE = [("alice.md", "Alice wrote down a vault code.", "alice")]


@pytest.mark.parametrize("user", [None, "alice", "bob"])
@pytest.mark.parametrize("k", [1, 3, 5])
def test_search_equals_the_filtered_query(tmp_path: Path, user: str | None, k: int) -> None:
    # The dense side alone (hybrid fusion reorders; its own visibility test is below).
    res = fake_resources(
        tmp_path / "data", corpus=SHARED + BOB + ALICE, score_threshold=0.0, hybrid=False
    )
    got = res.reader.search(QUESTION, k, user)
    store = res.reader.store()
    assert store is not None
    expected = store.similarity_search_with_score(QUESTION, k=k, filter=owner_filter(user))
    # Same relevance at every rank (chunks with equal scores may come in either order).
    assert [round(c.score, 5) for c in got] == [
        round(max(0.0, min(1.0, 1.0 - d)), 5) for _, d in expected
    ]
    visible = {"_shared", user}
    assert got, "the question matches chunks every user can see"
    assert all(c.document.metadata["owner"] in visible for c in got)


def test_crowded_out_caller_still_gets_k_results(tmp_path: Path) -> None:
    """Bob's chunks fill the unfiltered top OVERFETCH*k: alice must still get her k chunks."""
    assert len(BOB) > OVERFETCH * 3
    res = fake_resources(tmp_path / "data", corpus=SHARED + BOB + ALICE, score_threshold=0.0)
    got = res.reader.search(QUESTION, 3, "alice")
    assert len(got) == 3
    assert {c.document.metadata["source"] for c in got} <= {"alice.md"} | {s for s, _, _ in SHARED}


@pytest.mark.parametrize(("user", "lexical_sources"), [(None, set()), ("alice", {"alice.md"})])
def test_hybrid_search_never_returns_another_users_chunks(
    tmp_path: Path, user: str | None, lexical_sources: set[str]
) -> None:
    """BM25 scores every chunk; the owner mask must keep bob's (the best lexical matches) out."""
    res = fake_resources(tmp_path / "data", corpus=SHARED + BOB + ALICE, score_threshold=0.0)
    got = res.reader.search(QUESTION, 10, user)
    assert {c.document.metadata["source"] for c in got if c.lexical > 0} == lexical_sources
    assert {c.document.metadata["owner"] for c in got} <= {"_shared", user or "_shared"}


def _doc(owner: str, n: int) -> tuple[Document, float]:
    return Document(page_content=f"chunk {n}", metadata={OWNER_KEY: owner}), n / 100


def test_an_index_of_visible_owners_is_searched_for_exactly_k() -> None:
    """The lexical index's owners say every chunk is visible: one unfiltered query for k."""
    calls: list[dict[str, object]] = []

    def search(vector: list[float], **kwargs: object) -> list[tuple[Document, float]]:
        calls.append(kwargs)
        return [_doc(SHARED_OWNER, n) for n in range(int(kwargs["k"]))]  # type: ignore[call-overload]

    got = _visible_top_k(search, [0.0], 10, None, all_visible=True)
    assert len(got) == 10
    assert calls == [{"k": 10}]


def test_a_stale_all_visible_hint_falls_back_and_never_leaks() -> None:
    """Bob ingested since the lexical sync: his chunk comes back, so the overfetch follows."""
    calls: list[dict[str, object]] = []
    ranked = [_doc(SHARED_OWNER, 0), _doc("bob", 1)] + [_doc(SHARED_OWNER, n) for n in range(2, 60)]

    def search(vector: list[float], **kwargs: object) -> list[tuple[Document, float]]:
        calls.append(kwargs)
        return ranked[: int(kwargs["k"])]  # type: ignore[call-overload]

    got = _visible_top_k(search, [0.0], 10, None, all_visible=True)
    assert calls == [{"k": 10}, {"k": OVERFETCH * 10}]
    assert len(got) == 10
    assert all(doc.metadata[OWNER_KEY] == SHARED_OWNER for doc, _ in got)
