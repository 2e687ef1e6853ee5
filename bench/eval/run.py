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
    llm: dict[str, Any] | None = None
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
        llm = None
        if with_llm:
            llm = answer_with_llm(settings, reader, questions, with_llm, threshold, top_k)
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
            llm=llm,
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


def answer_with_llm(
    settings: Settings,
    reader: IndexReader,
    questions: Sequence[EvalQuestion],
    limit: int,
    threshold: float,
    top_k: int,
) -> dict[str, Any]:
    """Run the real chain on the first ``limit`` answerable questions that have a gold answer.

    Reports how often the answer contains the gold answer's core text, and the softer share of
    its content words found; also how many same-domain unanswerable questions the model refused
    once they got past retrieval (the small model's own refusal, which retrieval cannot provide).
    """
    from rag_chain.chain import RagResources, build_chain
    from rag_chain.llm import make_chat_model
    from rag_core.settings import REFUSAL

    tuned = settings.model_copy(update={"score_threshold": threshold, "top_k": top_k})
    resources = RagResources(tuned, reader, lambda: make_chat_model(tuned))
    chain = build_chain(lambda: resources)
    answerable = [q for q in questions if q.answerable and q.answer][:limit]
    same_domain = [q for q in questions if q.kind == metrics.SAME_DOMAIN][:limit]
    rows: list[dict[str, Any]] = []
    for question in answerable:
        answer = chain.invoke({"question": question.question})["answer"]
        rows.append(
            {
                "id": question.id,
                "contains": metrics.contains_gold(answer, question.answer or ""),
                "recall": round(metrics.gold_token_recall(answer, question.answer or ""), 3),
                "refused": REFUSAL in answer,
            }
        )
    refused_same = [
        REFUSAL in chain.invoke({"question": q.question})["answer"] for q in same_domain
    ]
    n = len(rows) or 1
    return {
        "questions": len(rows),
        "threshold": threshold,
        "top_k": top_k,
        "contains_gold": round(sum(r["contains"] for r in rows) / n, 3),
        "mean_gold_word_recall": round(sum(r["recall"] for r in rows) / n, 3),
        "refused_answerable": round(sum(r["refused"] for r in rows) / n, 3),
        "refused_same_domain": (
            round(sum(refused_same) / len(refused_same), 3) if refused_same else None
        ),
        "answers": rows,
    }
