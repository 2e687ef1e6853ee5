"""Run the evaluation for real: ingest a folder with the product's pipeline, retrieve, score.

The folder goes through ``ingest.Ingestor`` (same loaders, chunking and embeddings as
``rag-ingest``) into a throw-away data dir, and every question is answered by the same
``IndexReader`` the chain uses, so the numbers describe what the service would do.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from rag_chain.retrieval import IndexReader
from rag_core.settings import Settings, load_settings

from bench.eval import metrics
from bench.eval.metrics import EvalQuestion, Ranked

DEFAULT_THRESHOLDS = tuple(round(0.025 * i, 3) for i in range(0, 29))
DEFAULT_KS = (1, 2, 3, 4, 5, 6, 8, 10)


@dataclass
class EvalReport:
    """Everything the evaluation measured, ready to print or dump as JSON."""

    docs: str
    questions: int
    chunks: int
    ingest_seconds: float
    quality: dict[str, Any]
    sweep: list[dict[str, Any]]
    grounded: dict[int, float]
    recommended: dict[str, Any] | None
    recommended_top_k: int
    answers: list[dict[str, Any]] = field(default_factory=list)
    per_question: list[dict[str, Any]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Machine-readable form (keys are strings, as JSON needs)."""
        data = dict(self.__dict__)
        data["grounded"] = {str(k): v for k, v in self.grounded.items()}
        return data


def eval_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Settings for a private, throw-away index (never the user's own data dir)."""
    return load_settings(data_dir=data_dir, collection="eval", **overrides)


def rank_questions(
    reader: IndexReader, questions: Sequence[EvalQuestion], depth: int
) -> list[Ranked]:
    """Retrieve ``depth`` chunks per question with no threshold: the sweep filters afterwards."""
    ranked = []
    for question in questions:
        hits = reader.search(question.question, depth)
        pairs = [(str(h.document.metadata.get("source", "")), h.score) for h in hits]
        ranked.append(Ranked(question, pairs))
    return ranked


def evaluate(
    docs: Path,
    questions: Sequence[EvalQuestion],
    *,
    embeddings: Embeddings | None = None,
    thresholds: Sequence[float] = DEFAULT_THRESHOLDS,
    ks: Sequence[int] = DEFAULT_KS,
    with_llm: int = 0,
    modes: Sequence[str] = ("generate",),
    work_dir: Path | None = None,
) -> EvalReport:
    """Ingest ``docs`` into a temp index, rank every question, sweep thresholds and top-k."""
    from rag_core.embeddings import make_embeddings

    from ingest.indexer import Ingestor

    with tempfile.TemporaryDirectory(prefix="rag-eval-", dir=work_dir) as tmp:
        settings = eval_settings(Path(tmp) / "data")
        embedder = embeddings or make_embeddings(settings)
        started = time.perf_counter()
        ingest_report = Ingestor(settings, embeddings=embedder).run([docs], progress=False)
        ingest_seconds = time.perf_counter() - started
        if ingest_report.failed:
            raise RuntimeError(f"ingest failed for {ingest_report.failed}")
        reader = IndexReader(settings, embedder)
        ranked = rank_questions(reader, questions, max(ks))
        sweep = metrics.threshold_sweep(ranked, thresholds)
        chosen = metrics.recommend_threshold(ranked)
        threshold = chosen["threshold"] if chosen else settings.score_threshold
        grounded = metrics.grounded_by_k(ranked, threshold, ks)
        answerable = sum(q.answerable for q in questions)
        top_k = metrics.recommend_top_k(grounded, answerable)
        answers = (
            [answer_with_chain(settings, reader, questions, with_llm, mode) for mode in modes]
            if with_llm
            else []
        )
        return EvalReport(
            docs=str(docs),
            questions=len(questions),
            chunks=ingest_report.chunks_total,
            ingest_seconds=round(ingest_seconds, 2),
            quality={**metrics.retrieval_quality(ranked), **metrics.score_gap(ranked)},
            sweep=sweep,
            grounded=grounded,
            recommended=chosen,
            recommended_top_k=top_k,
            answers=answers,
            per_question=[
                {
                    "id": r.question.id,
                    "kind": r.question.kind,
                    "top_score": round(r.top_score, 4),
                    "gold_rank": r.gold_rank(),
                    "top_source": r.hits[0][0] if r.hits else None,
                }
                for r in ranked
            ],
        )


def answer_with_chain(
    settings: Settings,
    reader: IndexReader,
    questions: Sequence[EvalQuestion],
    limit: int,
    mode: str,
) -> dict[str, Any]:
    """Run the real chain, with the default threshold and top-k, on up to ``limit`` questions of
    each kind, in answer ``mode`` (``extract``, ``generate`` or ``verified``; the embedded model).

    Reports, over answerable questions with ``facts``: **answer-correct** (the answer states every
    fact group, :func:`metrics.states_facts`) and **faithfulness** (mean share of answer sentences
    supported by the retrieved chunks, :mod:`rag_chain.support`; refusals are left out), and the
    refusal rate of every kind, i.e. what a user of the service would get.
    """
    from rag_chain.chain import RagResources, build_chain, make_retrieve
    from rag_chain.llm import make_chat_model
    from rag_chain.support import faithfulness
    from rag_core.settings import REFUSAL

    tuned = settings.model_copy(update={"answer_mode": mode})
    resources = RagResources(tuned, reader, lambda: make_chat_model(tuned))
    chain = build_chain(lambda: resources)
    retrieve = make_retrieve(lambda: resources)
    rows: list[dict[str, Any]] = []
    started = time.perf_counter()
    try:
        for kind in sorted({q.kind for q in questions}):
            for question in [q for q in questions if q.kind == kind][:limit]:
                out = chain.invoke({"question": question.question})
                answer = str(out["answer"])
                refused = answer.strip() == REFUSAL
                row: dict[str, Any] = {"id": question.id, "kind": kind, "refused": refused}
                report = out.get("context") or {}
                if report.get("fallback"):
                    row["fallback"] = report["fallback"]  # verified: nothing supported was left
                if question.answerable:
                    # The chunks the chain answered from (its own retrieve step and relevance rule)
                    chunks = retrieve.invoke({"question": question.question})["chunks"]
                    context = [chunk.document.page_content for chunk in chunks]
                    row["faithfulness"] = None if refused else faithfulness(answer, context)
                    if question.facts:
                        row["correct"] = metrics.states_facts(answer, question.facts)
                row["answer"] = answer[:400]
                rows.append(row)
    finally:
        resources.close()
    elapsed = time.perf_counter() - started

    def share(flags: list[bool]) -> float | None:
        return round(sum(flags) / len(flags), 3) if flags else None

    faithful = [r["faithfulness"] for r in rows if r.get("faithfulness") is not None]
    return {
        "mode": mode,
        "questions": len(rows),
        "answer_correct": share([r["correct"] for r in rows if "correct" in r]),
        "faithfulness": round(sum(faithful) / len(faithful), 3) if faithful else None,
        "refused": {
            kind: share([r["refused"] for r in rows if r["kind"] == kind])
            for kind in sorted({r["kind"] for r in rows})
        },
        "fell_back": {
            kind: share([bool(r.get("fallback")) for r in rows if r["kind"] == kind])
            for kind in sorted({r["kind"] for r in rows})
        },
        "seconds_per_question": round(elapsed / max(len(rows), 1), 2),
        "answers": rows,
    }
