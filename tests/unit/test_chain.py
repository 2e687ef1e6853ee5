"""The RAG chain with fakes: output shape, sources first, refusal without the LLM, budget, k, owners."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.documents import Document
from rag_chain import build_chain, build_retriever
from rag_chain.budget import fit_context, label
from rag_chain.retrieval import ScoredChunk
from rag_core.settings import REFUSAL

from tests.support.fakes import ExplodingChatModel, fake_chat_model, fake_resources

PRICING_Q = "How much does the Team plan cost?"
#: Shares no word with the corpus: every chunk scores below RAG_SCORE_THRESHOLD (0.26).
OFF_DOMAIN_Q = "Quels sont les meilleurs fromages?"
REPLY = "Twelve euros per user per month."
CITATION_KEYS = {"source", "page", "start_line", "end_line", "headings", "score", "snippet"}


def test_invoke_returns_answer_sources_and_context(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", fake_chat_model(REPLY))
    out = build_chain(lambda: res).invoke({"question": PRICING_Q})

    assert out["answer"] == REPLY
    assert [s["source"] for s in out["sources"]] == ["pricing.md"]
    source = out["sources"][0]
    assert set(source) == CITATION_KEYS
    assert (source["start_line"], source["end_line"], source["page"]) == (1, 3, None)
    assert 0.3 <= source["score"] <= 1.0
    assert source["snippet"].startswith("The Team plan costs 12 euros")
    assert out["context"]["chunks_used"] == 1
    assert out["context"]["chunks_cut"] == []


async def test_ainvoke_matches_invoke(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", fake_chat_model(REPLY))
    chain = build_chain(lambda: res)
    assert await chain.ainvoke({"question": PRICING_Q}) == chain.invoke({"question": PRICING_Q})


async def test_astream_sends_sources_before_any_answer_token(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", fake_chat_model(REPLY))
    chunks = [c async for c in build_chain(lambda: res).astream({"question": PRICING_Q})]

    assert "sources" in chunks[0] and "answer" not in chunks[0]
    assert [s["source"] for s in chunks[0]["sources"]] == ["pricing.md"]
    answer_chunks = [c for c in chunks if "answer" in c]
    assert len(answer_chunks) > 1, "the answer must stream in pieces"
    assert all("sources" not in c for c in answer_chunks)
    assert "".join(c["answer"] for c in answer_chunks) == REPLY


def test_sync_stream_sends_sources_first_too(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", fake_chat_model(REPLY))
    chunks = list(build_chain(lambda: res).stream({"question": PRICING_Q}))
    assert "sources" in chunks[0] and "answer" not in chunks[0]
    assert "".join(c.get("answer", "") for c in chunks) == REPLY


def test_refusal_never_calls_the_model(tmp_path: Path) -> None:
    model = ExplodingChatModel()
    res = fake_resources(tmp_path / "data", model)
    out = build_chain(lambda: res).invoke({"question": OFF_DOMAIN_Q})

    assert out["answer"] == REFUSAL
    assert out["sources"] == []
    assert out["context"]["refused"] is True
    assert model.calls == 0


async def test_refusal_streams_empty_sources_then_the_sentence(tmp_path: Path) -> None:
    model = ExplodingChatModel()
    res = fake_resources(tmp_path / "data", model)
    chunks = [c async for c in build_chain(lambda: res).astream({"question": OFF_DOMAIN_Q})]

    assert chunks[0]["sources"] == []
    assert "".join(c.get("answer", "") for c in chunks) == REFUSAL
    assert model.calls == 0


def test_threshold_decides_refusal(tmp_path: Path) -> None:
    """The same question is answered or refused depending only on RAG_SCORE_THRESHOLD."""
    model = ExplodingChatModel()
    strict = fake_resources(tmp_path / "strict", model, score_threshold=0.99)
    assert build_chain(lambda: strict).invoke({"question": PRICING_Q})["answer"] == REFUSAL
    assert model.calls == 0

    lenient = fake_resources(tmp_path / "lenient", fake_chat_model(REPLY), score_threshold=0.0)
    out = build_chain(lambda: lenient).invoke({"question": PRICING_Q})
    assert out["answer"] == REPLY
    assert len(out["sources"]) == 3  # top_k, all shared chunks pass a zero threshold


def test_missing_index_refuses_instead_of_failing(tmp_path: Path) -> None:
    model = ExplodingChatModel()
    res = fake_resources(tmp_path / "data", model, with_index=False)
    out = build_chain(lambda: res).invoke({"question": PRICING_Q})
    assert (out["answer"], out["sources"], model.calls) == (REFUSAL, [], 0)


def _chunk(source: str, words: int, score: float = 0.9) -> ScoredChunk:
    text = " ".join(f"w{i}" for i in range(words))
    return ScoredChunk(Document(page_content=text, metadata={"source": source}), score)


def test_fit_context_keeps_rank_order_and_reports_cuts() -> None:
    def count(text: str) -> int:
        return len(text.split())

    chunks = [_chunk("a.md", 40), _chunk("b.md", 40), _chunk("c.md", 40)]
    fitted = fit_context(chunks, budget_tokens=100, count=count)

    assert [c.document.metadata["source"] for c in fitted.used] == ["a.md", "b.md"]
    assert fitted.report() == {
        "chunks_used": 2,
        "chunks_cut": ["c.md"],
        "truncated": False,
        "tokens": fitted.tokens,
    }
    assert fitted.tokens <= 100
    assert fitted.text.startswith(label(chunks[0], 1))
    assert "[2] (b.md)" in fitted.text and "c.md" not in fitted.text


def test_fit_context_truncates_an_oversized_best_chunk() -> None:
    def count(text: str) -> int:
        return len(text.split())

    fitted = fit_context(
        [_chunk("huge.md", 1000), _chunk("next.md", 10)], budget_tokens=200, count=count
    )
    assert fitted.truncated is True
    assert [c.document.metadata["source"] for c in fitted.used][0] == "huge.md"
    assert fitted.tokens <= 200
    assert count(fitted.text) <= 200


def test_chain_cuts_chunks_that_do_not_fit_the_window_and_says_so(tmp_path: Path) -> None:
    """A 512-token window cannot hold three ~1800-character chunks: the worst ranked are cut."""
    filler = "Team plan cost details. " * 75  # ~1800 chars, ~600 estimated tokens
    corpus = [(f"long-{i}.md", f"{'Team plan ' * (3 - i)}{filler}", None) for i in range(3)]
    res = fake_resources(
        tmp_path / "data",
        fake_chat_model(REPLY),
        corpus=corpus,
        llm_context_window=1024,
        llm_max_tokens=16,
        score_threshold=0.0,
    )
    out = build_chain(lambda: res).invoke({"question": PRICING_Q})

    context = out["context"]
    assert context["chunks_used"] + len(context["chunks_cut"]) == 3
    assert context["chunks_cut"], "something must have been cut"
    assert len(out["sources"]) == context["chunks_used"]
    assert not {s["source"] for s in out["sources"]} & set(context["chunks_cut"])


class _SpyReader:
    """Wraps an IndexReader to record the k and user each search was made with."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.calls: list[tuple[int, str | None]] = []

    def search(self, question: str, k: int, user: str | None = None) -> Any:
        self.calls.append((k, user))
        return self.inner.search(question, k, user)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


@pytest.mark.parametrize(
    ("requested", "expected"),
    [(None, 3), (2, 2), (100, 5), (0, 1), (-4, 1), ("abc", 3), ("4", 4)],
)
def test_client_k_is_clamped(tmp_path: Path, requested: object, expected: int) -> None:
    res = fake_resources(tmp_path / "data", fake_chat_model(REPLY), max_top_k=5)
    spy = _SpyReader(res.reader)
    res.reader = spy  # type: ignore[assignment]
    config = {} if requested is None else {"configurable": {"k": requested}}
    build_retriever(lambda: res).invoke({"question": PRICING_Q}, config)  # type: ignore[arg-type]
    assert spy.calls == [(expected, None)]


def test_owner_filter_hides_other_users_documents(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", fake_chat_model(REPLY), score_threshold=0.0)
    retriever = build_retriever(lambda: res)
    question = {"question": "vault passphrase hint"}

    def sources(config: dict[str, Any]) -> set[str]:
        cited = retriever.invoke(question, {"configurable": {"k": 10, **config}})  # type: ignore[arg-type]
        return {c["source"] for c in cited}

    assert "alice-notes.md" not in sources({})
    assert "alice-notes.md" not in sources({"rag_user": "bob"})
    assert "alice-notes.md" in sources({"rag_user": "alice"})
    assert sources({"rag_user": "alice"}) >= {"pricing.md", "setup.md", "errors.md"}


def test_retriever_cites_what_the_chain_cites(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", fake_chat_model(REPLY), score_threshold=0.0)
    question = {"question": "Which port does Quillfeather listen on?"}
    assert (
        build_retriever(lambda: res).invoke(question)
        == build_chain(lambda: res).invoke(question)["sources"]
    )


def test_bad_input_is_rejected(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", ExplodingChatModel())
    with pytest.raises(ValueError, match="question"):
        build_chain(lambda: res).invoke({"query": PRICING_Q})


def test_langgraph_graph_runs_the_same_chain(tmp_path: Path) -> None:
    from rag_chain.graph import build_graph

    res = fake_resources(tmp_path / "data", fake_chat_model(REPLY))
    state = build_graph(lambda: res).invoke({"question": PRICING_Q})
    assert state["answer"] == REPLY
    assert state["sources"] == build_chain(lambda: res).invoke({"question": PRICING_Q})["sources"]


def test_no_room_for_any_context_refuses_instead_of_answering_blind(tmp_path: Path) -> None:
    """When the answer budget leaves no room for even one chunk, the model must not be asked to
    answer from nothing (with no sources): the chain refuses and says why in ``context``."""
    model = ExplodingChatModel()
    res = fake_resources(tmp_path / "data", model, llm_context_window=512, llm_max_tokens=500)
    out = build_chain(lambda: res).invoke({"question": PRICING_Q})
    assert (out["answer"], out["sources"], model.calls) == (REFUSAL, [], 0)
    assert out["context"]["refused"] is True
    assert out["context"]["chunks_cut"] == ["pricing.md"]
