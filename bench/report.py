"""The result table printed at the end of a run, and the JSON file kept under bench/results/."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.stats import Figure

RESULTS = Path(__file__).resolve().parent / "results"


def machine() -> dict[str, Any]:
    """What the numbers were measured on (they mean little without it)."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
    }


def _num(value: float | None) -> str:
    if value is None:
        return "–"
    if abs(value) >= 100:
        return f"{value:.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    return f"{value:.3g}"


def render_table(figures: Sequence[Figure]) -> str:
    """A Markdown table: figure, value, baseline, ratio, target, met?, notes."""
    lines = [
        "| figure | value | baseline | ratio (90% CI) | target | ok | notes |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for f in figures:
        judged = "ratio" if f.baseline is not None else "value"
        target = "" if f.target is None else f"{judged} {f.op} {f.target:g}"
        ok = {True: "yes", False: "**no**", None: ""}[f.ok]
        if f.ratio_ci and f.target is not None and f.ratio_ci[0] <= f.target <= f.ratio_ci[1]:
            ok += " (CI spans target)"
        baseline = "" if f.baseline is None else _num(f.baseline)
        ratio = "" if f.ratio is None else f"{f.ratio:.3f}"
        if f.ratio_ci:
            ratio += f" ({f.ratio_ci[0]:.2f}–{f.ratio_ci[1]:.2f})"
        lines.append(
            f"| {f.name} | {_num(f.value)} {f.unit} | {baseline} | {ratio} | {target} | {ok} "
            f"| {f.note} |"
        )
    return "\n".join(lines)


def write_results(
    profile: str, figures: Sequence[Figure], raw: dict[str, Any], folder: Path = RESULTS
) -> Path:
    """Write ``<folder>/<UTC timestamp>.json`` with the figures, raw samples and the machine."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    path = folder / f"{stamp}-{profile}.json"
    body = {
        "profile": profile,
        "when": stamp,
        "machine": machine(),
        "figures": [f.as_json() for f in figures],
        "samples": raw,
    }
    path.write_text(json.dumps(body, indent=2, default=str))
    return path
