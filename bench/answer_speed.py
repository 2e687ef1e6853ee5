"""Time to first token and tokens/s through the real server, against raw llama.cpp.

Each repetition takes fresh questions (llama.cpp would reuse its KV cache for a repeated prompt)
and measures the subject and its baseline on the *same* question back to back, alternating which
goes first, so a burst of load from other processes hits both sides; figures are medians of the
per-question ratios.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from bench.corpus import QuestionPool
from bench.raw_llama import PreparedPrompt, RawLlama
from bench.stats import Figure, median, median_ci
from bench.streams import StreamTiming, stream_chat, stream_plain, stream_rag


@dataclass
class Pairs:
    """Subject/baseline samples of one route: time to first token and tokens/s."""

    ttft: list[tuple[float, float]] = field(default_factory=list)
    tps: list[tuple[float, float]] = field(default_factory=list)
    errors: int = 0

    def add(
        self, subject: StreamTiming, baseline: StreamTiming, prompt: PreparedPrompt, raw: RawLlama
    ) -> None:
        """Record one pair; the baseline's first token also pays the retrieval the server does."""
        if subject.error or subject.ttft is None:
            self.errors += 1
            return
        if baseline.ttft is not None:
            self.ttft.append((subject.ttft, prompt.retrieval_seconds + baseline.ttft))
        s_tps = subject.tokens_per_second(raw.count_tokens)
        b_tps = baseline.tokens_per_second(raw.count_tokens)
        if s_tps and b_tps:
            self.tps.append((s_tps, b_tps))

    def figures(self, label: str) -> list[Figure]:
        """TTFT (≤ 1.05× baseline) and tok/s (≥ 0.95× baseline) rows."""
        note = f"{len(self.ttft)} questions, {self.errors} errors"
        ttft_ratios = [s / b for s, b in self.ttft]
        tps_ratios = [s / b for s, b in self.tps]
        return [
            Figure(
                f"{label} time to first token",
                median([s for s, _ in self.ttft]),
                "s",
                target=1.05,
                op="<=",
                baseline=median([b for _, b in self.ttft]),
                paired_ratio=median(ttft_ratios),
                ratio_ci=median_ci(ttft_ratios),
                note=note + "; baseline = retrieval + raw llama.cpp",
            ),
            Figure(
                f"{label} answer tokens/s",
                median([s for s, _ in self.tps]),
                "tok/s",
                target=0.95,
                op=">=",
                baseline=median([b for _, b in self.tps]),
                paired_ratio=median(tps_ratios),
                ratio_ci=median_ci(tps_ratios),
                note=note,
            ),
        ]


def _answered(raw: RawLlama, pool: QuestionPool) -> tuple[str, PreparedPrompt]:
    """A fresh question that passes the threshold (a refusal never reaches the model)."""
    for _ in range(50):
        question = pool.take()
        prompt = raw.prepare(question)
        if prompt.chunks:
            return question, prompt
    raise RuntimeError("no question in the pool reaches the model: is the index empty?")


def measure_answer_speed(
    raw: RawLlama,
    rag_url: str,
    naive_url: str | None,
    pool: QuestionPool,
    reps: int,
) -> tuple[list[Figure], dict[str, Any]]:
    """Figures for /rag/stream, /chat/stream and the naive app, with the raw samples for JSON."""
    rag, chat, naive = Pairs(), Pairs(), Pairs()
    with httpx.Client(timeout=httpx.Timeout(300.0, connect=10.0)) as client:
        # Warm-up (not counted): first requests pay one-off costs on every side.
        _, warm = _answered(raw, pool)
        raw.stream(warm)
        stream_rag(client, rag_url, pool.take())
        stream_chat(client, rag_url, pool.take())
        if naive_url:
            stream_plain(client, naive_url, pool.take())
        for rep in range(reps):
            question, prompt = _answered(raw, pool)
            if rep % 2:
                subject = stream_rag(client, rag_url, question)
                baseline = raw.stream(prompt)
            else:
                baseline = raw.stream(prompt)
                subject = stream_rag(client, rag_url, question)
            rag.add(subject, baseline, prompt, raw)
            if naive_url:
                theirs = stream_plain(client, naive_url, question)
                naive.add(theirs, baseline, prompt, raw)
            question, prompt = _answered(raw, pool)
            if rep % 2:
                baseline = raw.stream(prompt)
                subject = stream_chat(client, rag_url, question)
            else:
                subject = stream_chat(client, rag_url, question)
                baseline = raw.stream(prompt)
            chat.add(subject, baseline, prompt, raw)
    figures = rag.figures("/rag/stream") + chat.figures("/chat/stream")
    if naive_url:
        figures += _versus_naive(rag, naive)
    samples = {
        name: {"ttft": pairs.ttft, "tps": pairs.tps, "errors": pairs.errors}
        for name, pairs in (("rag", rag), ("chat", chat), ("naive", naive))
    }
    return figures, samples


def _versus_naive(ours: Pairs, naive: Pairs) -> list[Figure]:
    """Ours against the seed-style app on the same questions (both relative to raw llama.cpp)."""
    ours_ttft = median([s / b for s, b in ours.ttft])
    naive_ttft = median([s / b for s, b in naive.ttft])
    ours_tps = median([s / b for s, b in ours.tps])
    naive_tps = median([s / b for s, b in naive.tps])
    note = f"{len(naive.ttft)} questions, {naive.errors} errors; value = naive's ratio to raw"
    return [
        Figure(
            "naive app TTFT (÷ ours)",
            naive_ttft,
            "× raw",
            target=1.0,
            op=">=",
            baseline=ours_ttft,
            note=note + "; ≥ 1 means ours is at least as fast",
        ),
        Figure(
            "naive app tokens/s (÷ ours)",
            naive_tps,
            "× raw",
            target=1.0,
            op="<=",
            baseline=ours_tps,
            note=note + "; ≤ 1 means ours streams at least as fast",
        ),
    ]
