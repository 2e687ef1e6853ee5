"""Small statistics for noisy machines: medians, percentiles and figures judged against targets."""

from __future__ import annotations

import math
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
            "target": f"{self.op} {self.target}" if self.target is not None else None,
            "ok": self.ok,
            "note": self.note,
        }
