"""Pure scoring of a retrieval run: hit@k, MRR, refusal and false refusal per threshold and top-k.

Kept free of models and stores so the arithmetic can be tested on hand-made rankings. A question's
ranking is the list of (source, relevance score) of the chunks retrieved for it, best first. The
chain refuses when no retrieved chunk reaches the score threshold, so the refusal decision depends
only on the best score; which chunks the model sees depends on both the threshold and top-k.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ANSWERABLE = "answerable"
UNANSWERABLE = "unanswerable"
OFF_DOMAIN = "off_domain"
SAME_DOMAIN = "unanswerable_same_domain"

#: Highest false-refusal rate (answerable questions refused) we accept when choosing a threshold.
MAX_FALSE_REFUSAL = 0.05


@dataclass(frozen=True)
class EvalQuestion:
    """One line of the question file: ``source`` is the gold file (None = not answerable)."""

    id: str
    question: str
    source: str | None
    kind: str
    answer: str | None = None
    #: Groups of strings; a correct answer contains one string of every group (case-insensitive).
    facts: tuple[tuple[str, ...], ...] = ()

    @property
    def answerable(self) -> bool:
        """Whether the documents answer it (it has a gold source)."""
        return self.source is not None


@dataclass
class Ranked:
    """A question with its retrieved chunks, best first."""

    question: EvalQuestion
    hits: list[tuple[str, float]] = field(default_factory=list)

    @property
    def top_score(self) -> float:
        """Relevance of the best chunk (0 when nothing was retrieved)."""
        return self.hits[0][1] if self.hits else 0.0

    def gold_rank(self, limit: int | None = None) -> int | None:
        """1-based rank of the first chunk from the gold file within ``limit``, else None."""
        for rank, (source, _score) in enumerate(self.hits[:limit], start=1):
            if source == self.question.source:
                return rank
        return None

    def grounded(self, threshold: float, k: int) -> bool:
        """Whether the model would see a chunk of the gold file (top-k, above the threshold)."""
        kept = [(s, score) for s, score in self.hits[:k] if score >= threshold]
        return any(source == self.question.source for source, _ in kept)


def load_questions(path: Path) -> list[EvalQuestion]:
    """Read a JSONL question file: ``{"id", "question", "source" | null, ["kind"], ["answer"]}``."""
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        raw = json.loads(line)
        source = raw.get("source")
        kind = raw.get("kind") or (ANSWERABLE if source else UNANSWERABLE)
        questions.append(
            EvalQuestion(
                id=str(raw.get("id", number)),
                question=raw["question"],
                source=source,
                kind=kind,
                answer=raw.get("answer"),
                facts=tuple(tuple(str(x) for x in group) for group in raw.get("facts") or ()),
            )
        )
    return questions


def _rate(flags: Iterable[bool]) -> float | None:
    values = list(flags)
    return round(sum(values) / len(values), 4) if values else None


def retrieval_quality(ranked: Sequence[Ranked]) -> dict[str, Any]:
    """hit@1, hit@3 and MRR over the answerable questions (threshold-independent)."""
    answerable = [r for r in ranked if r.question.answerable]
    ranks = [r.gold_rank() for r in answerable]
    mrr = sum(1 / rank for rank in ranks if rank) / len(ranks) if ranks else None
    return {
        "answerable": len(answerable),
        "hit@1": _rate(rank == 1 for rank in ranks),
        "hit@3": _rate(rank is not None and rank <= 3 for rank in ranks),
        "mrr": round(mrr, 4) if mrr is not None else None,
    }


def refusal_row(ranked: Sequence[Ranked], threshold: float) -> dict[str, Any]:
    """Refusal rate per kind of unanswerable question, and false refusal of answerable ones."""
    row: dict[str, Any] = {"threshold": round(threshold, 4)}
    unanswerable = [r for r in ranked if not r.question.answerable]
    row["false_refusal"] = _rate(r.top_score < threshold for r in ranked if r.question.answerable)
    row["refusal_unanswerable"] = _rate(r.top_score < threshold for r in unanswerable)
    for kind in sorted({r.question.kind for r in unanswerable} - {UNANSWERABLE}):
        row[f"refusal_{kind}"] = _rate(
            r.top_score < threshold for r in unanswerable if r.question.kind == kind
        )
    return row


def threshold_sweep(ranked: Sequence[Ranked], thresholds: Iterable[float]) -> list[dict[str, Any]]:
    """One refusal row per threshold."""
    return [refusal_row(ranked, t) for t in thresholds]


def grounded_by_k(
    ranked: Sequence[Ranked], threshold: float, ks: Iterable[int]
) -> dict[int, float]:
    """For each k: share of answerable questions whose gold file reaches the model."""
    answerable = [r for r in ranked if r.question.answerable]
    return {k: _rate(r.grounded(threshold, k) for r in answerable) or 0.0 for k in ks}


#: Step of the internal sweep the threshold is chosen from (finer than the printed sweep).
CHOICE_STEP = 0.005


def recommend_threshold(
    ranked: Sequence[Ranked], max_false_refusal: float = MAX_FALSE_REFUSAL
) -> dict[str, Any] | None:
    """The threshold refusing the most off-domain questions with false refusal ≤ the limit.

    Swept in steps of 0.005 (the choice is rounded to 0.01). Ties are broken by same-domain
    refusal, then by fewer false refusals, then by taking the middle of the remaining plateau,
    which leaves a margin on both sides for unseen questions; the plateau's ends are reported too.
    Without kinds in the question file, all unanswerable questions count as off-domain.
    """
    rows = threshold_sweep(ranked, [round(i * CHOICE_STEP, 3) for i in range(201)])
    has_kinds = any(f"refusal_{OFF_DOMAIN}" in r for r in rows)
    target = f"refusal_{OFF_DOMAIN}" if has_kinds else "refusal_unanswerable"
    feasible = [r for r in rows if (r["false_refusal"] or 0.0) <= max_false_refusal]
    if not feasible:
        return None

    def key(row: dict[str, Any]) -> tuple[float, float, float]:
        return (
            row.get(target) or 0.0,
            row.get(f"refusal_{SAME_DOMAIN}") or 0.0,
            -(row["false_refusal"] or 0.0),
        )

    best = max(key(r) for r in feasible)
    plateau = [r for r in feasible if key(r) == best]
    middle = (plateau[0]["threshold"] + plateau[-1]["threshold"]) / 2
    chosen = refusal_row(ranked, round(middle, 2))
    return {
        **chosen,
        "objective": target,
        "max_false_refusal": max_false_refusal,
        "plateau": [plateau[0]["threshold"], plateau[-1]["threshold"]],
    }


def score_gap(ranked: Sequence[Ranked]) -> dict[str, float | None]:
    """Lowest best-score of an answerable question and highest of an off-domain one."""
    answerable = [r.top_score for r in ranked if r.question.answerable]
    off = [r.top_score for r in ranked if r.question.kind in (OFF_DOMAIN, UNANSWERABLE)]
    return {
        "lowest_answerable": round(min(answerable), 4) if answerable else None,
        "highest_off_domain": round(max(off), 4) if off else None,
    }


def recommend_top_k(grounded: dict[int, float], answerable: int, slack: int = 2) -> int:
    """The smallest k that grounds at most ``slack`` fewer answerable questions than the best k.

    Every extra chunk costs ~250 prompt tokens (time to first token grows with the prompt) and
    gives a tiny model more to be distracted by, so it must earn its place: one or two questions
    of a few dozen are within the noise of any question set.
    """
    best = max(grounded.values())
    tolerance = slack / answerable if answerable else 0.0
    # Rates are rounded to 4 decimals: allow for it.
    return min(k for k, value in grounded.items() if value >= best - tolerance - 1e-3)


_WORD = re.compile(r"[a-z0-9][a-z0-9._/-]*")
_STOP = frozenset(
    [
        "the",
        "a",
        "an",
        "and",
        "or",
        "of",
        "to",
        "in",
        "on",
        "for",
        "with",
        "by",
        "is",
        "are",
        "be",
        "it",
        "its",
        "at",
        "as",
        "from",
        "that",
        "this",
        "then",
        "than",
        "your",
        "you",
        "can",
        "after",
        "before",
        "also",
    ]
)


def answer_key(gold: str) -> str:
    """The core of a gold answer: the text before its first explanation ("(", ";", " - ")."""
    core = re.split(r"\s\(|;|\s[-–—]\s", gold, maxsplit=1)[0]
    return " ".join(core.lower().split()).rstrip(".")


def contains_gold(answer: str, gold: str) -> bool:
    """Whether the model's answer contains the gold answer's core text (case-insensitive)."""
    return answer_key(gold) in " ".join(answer.lower().split())


def gold_token_recall(answer: str, gold: str) -> float:
    """Share of the gold core's content words that appear in the answer (a softer match)."""
    wanted = {w for w in _WORD.findall(answer_key(gold)) if w not in _STOP}
    if not wanted:
        return 0.0
    found = set(_WORD.findall(answer.lower()))
    return len(wanted & found) / len(wanted)


def states_facts(answer: str, facts: Sequence[Sequence[str]]) -> bool:
    """Whether ``answer`` states every fact group (one any-of string of each, case-insensitive).

    The refusal sentence never states a fact; an answer with no fact groups to check is not
    counted as correct (call this only for questions that have facts).
    """
    text = answer.lower()
    return bool(facts) and all(any(alt.lower() in text for alt in group) for group in facts)
