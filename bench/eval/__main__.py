"""``python -m bench.eval``: retrieval quality and refusal on any folder and question file.

Example: ``python -m bench.eval --docs samples --questions bench/eval/questions.jsonl``.
Refusal here is the retrieval-level decision the chain makes before the model is called;
``--with-llm N`` also runs the real chain on N answerable questions.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from bench.eval.metrics import load_questions
from bench.eval.run import DEFAULT_KS, DEFAULT_THRESHOLDS, EvalReport, evaluate

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


def _floats(text: str) -> list[float]:
    return [float(x) for x in text.split(",") if x.strip()]


def _ints(text: str) -> list[int]:
    return [int(x) for x in text.split(",") if x.strip()]


def _pct(value: Any) -> str:
    return "–" if value is None else f"{100 * value:.0f}%"


def render(report: EvalReport) -> str:
    """The human-readable report: quality, the threshold sweep, grounding by k, the advice."""
    q = report.quality
    lines = [
        f"docs {report.docs}: {report.chunks} chunks (ingested in {report.ingest_seconds} s), "
        f"{report.questions} questions ({q['answerable']} answerable)",
        f"retrieval: hit@1 {q['hit@1']}  hit@3 {q['hit@3']}  MRR {q['mrr']}; best-chunk score: "
        f"lowest of an answerable question {q['lowest_answerable']}, highest of an off-domain "
        f"one {q['highest_off_domain']}",
        "",
    ]
    kinds = [k for k in report.sweep[0] if k.startswith("refusal_")] if report.sweep else []
    header = ["threshold", "false refusal", *[k.removeprefix("refusal_") for k in kinds]]
    lines.append(" | ".join(header))
    for row in report.sweep:
        cells = [f"{row['threshold']:.3f}", _pct(row["false_refusal"])]
        cells += [_pct(row[k]) for k in kinds]
        lines.append(" | ".join(cells))
    lines.append("")
    lines.append(
        "gold file reaches the model (at the recommended threshold), by top-k: "
        + ", ".join(f"k={k}: {_pct(v)}" for k, v in report.grounded.items())
    )
    rec = report.recommended
    if rec:
        lines.append(
            f"recommended: RAG_SCORE_THRESHOLD={rec['threshold']} (middle of "
            f"{rec['plateau'][0]:.3f}-{rec['plateau'][1]:.3f}, where {rec['objective']} is highest "
            f"with false refusal ≤ {_pct(rec['max_false_refusal'])}; false refusal "
            f"{_pct(rec['false_refusal'])}), RAG_TOP_K={report.recommended_top_k} (smallest k "
            "within 2 questions of the best)"
        )
    else:
        lines.append("recommended: none (every threshold refuses too many answerable questions)")
    for run in report.answers:
        refused = ", ".join(f"{kind} {_pct(v)}" for kind, v in run["refused"].items())
        lines.append(
            f"answers, mode {run['mode']} ({run['questions']} questions, defaults): answer-correct "
            f"{_pct(run['answer_correct'])}, faithfulness {_pct(run['faithfulness'])}; refused: "
            f"{refused}; {run['seconds_per_question']} s per question"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Parse flags, run the evaluation, print the report (and write JSON if asked)."""
    parser = argparse.ArgumentParser(prog="python -m bench.eval", description=__doc__)
    parser.add_argument("--docs", type=Path, default=ROOT / "samples", help="folder to ingest")
    parser.add_argument(
        "--questions", type=Path, default=HERE / "questions.jsonl", help="question JSONL file"
    )
    parser.add_argument("--thresholds", type=_floats, default=list(DEFAULT_THRESHOLDS))
    parser.add_argument("--top-k", type=_ints, default=list(DEFAULT_KS), dest="ks")
    parser.add_argument(
        "--with-llm",
        type=int,
        default=0,
        metavar="N",
        help="also run the real chain on up to N questions of each kind",
    )
    parser.add_argument(
        "--modes",
        default="generate",
        help="comma-separated answer modes to run with --with-llm (extract,generate,verified)",
    )
    parser.add_argument("--json", type=Path, help="also write the full report here")
    args = parser.parse_args(argv)
    if not args.docs.is_dir():
        parser.error(f"--docs {args.docs} is not a folder")
    questions = load_questions(args.questions)
    report = evaluate(
        args.docs,
        questions,
        thresholds=args.thresholds,
        ks=args.ks,
        with_llm=args.with_llm,
        modes=[m.strip() for m in args.modes.split(",") if m.strip()],
    )
    print(render(report))
    if args.json:
        args.json.write_text(json.dumps(report.as_json(), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
