"""Small statistics for noisy machines: medians, percentiles and figures judged against targets."""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


def median(values: Sequence[float]) -> float | None:
    """Median, or None for no samples (a section that could not run)."""
    return statistics.median(values) if values else None


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100): an observed value, honest on few samples."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median_ci(
    values: Sequence[float], level: float = 0.9, resamples: int = 2000, seed: int = 0
) -> tuple[float, float] | None:
    """Bootstrap confidence interval of the median (percentile method, fixed seed: reproducible).

    On these shared 2-core machines one subject/baseline pair varies by +-15 %; the interval says
    how far the median of a handful of pairs can be trusted against a 5 % target.
    """
    if len(values) < 3:
        return None
    rng = random.Random(seed)
    n = len(values)
    medians = sorted(statistics.median(rng.choices(values, k=n)) for _ in range(resamples))
    tail = (1.0 - level) / 2
    low = medians[int(tail * (resamples - 1))]
    high = medians[int(math.ceil((1.0 - tail) * (resamples - 1)))]
    return low, high


def ratio(subject: float | None, baseline: float | None) -> float | None:
    """subject / baseline, or None when either side is missing or the baseline is zero."""
    if subject is None or not baseline:
        return None
    return subject / baseline


@dataclass
class Figure:
    """One row of the result table: a measured value, its baseline, and the target it must meet.

    ``op`` is "<=" or ">=" and applies to ``ratio`` when there is a baseline, else to ``value``.
    """

    name: str
    value: float | None
    unit: str
    target: float | None = None
    op: str = "<="
    baseline: float | None = None
    note: str = ""
    #: Median of per-pair ratios (subject and baseline on the same question), when measured so.
    paired_ratio: float | None = None
    #: 90 % bootstrap interval of ``paired_ratio`` (see :func:`median_ci`).
    ratio_ci: tuple[float, float] | None = None

    @property
    def ratio(self) -> float | None:
        """Median paired ratio if known, else value over baseline (None without a baseline)."""
        if self.paired_ratio is not None:
            return self.paired_ratio
        return ratio(self.value, self.baseline) if self.baseline is not None else None

    @property
    def ok(self) -> bool | None:
        """Whether the target is met; None when there is no target or nothing was measured."""
        judged = self.ratio if self.baseline is not None else self.value
        if self.target is None or judged is None:
            return None
        return judged <= self.target if self.op == "<=" else judged >= self.target

    def as_json(self) -> dict[str, Any]:
        """The row as written to bench/results/*.json."""
        return {
            "name": self.name,
            "value": self.value,
            "unit": self.unit,
            "baseline": self.baseline,
            "ratio": self.ratio,
            "ratio_ci90": list(self.ratio_ci) if self.ratio_ci else None,
            "target": f"{self.op} {self.target}" if self.target is not None else None,
            "ok": self.ok,
            "note": self.note,
        }
