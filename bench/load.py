"""Bounded loopback load: concurrent answer streams mixed with bad requests, rounds, and RSS.

``python -m bench.load --url http://127.0.0.1:8000 --streams 32 --rounds 5 [--pid PID]`` runs
``--rounds`` rounds; each fires ``--streams`` concurrent streams (alternating /chat/stream and
/rag/stream) plus a bad request per four streams (malformed JSON, over-long question, k out of
range, unknown field) and expects every stream to finish and every bad request to get a 4xx.
With ``--pid`` (the server process) it samples its RSS after each round. It prints a JSON report
and exits 1 on any unexpected error or when RSS grew more than ``--max-rss-growth-mb`` between
the first and the last round (the first round pays for warm-up allocations).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

QUESTIONS = [
    "Which port does Quillfeather listen on?",
    "How much does the Team plan cost?",
    "What does error QF-104 mean?",
    "How do I export a notebook?",
    "What is the capital of Mongolia?",
]


@dataclass
class RoundReport:
    """What one round did."""

    round: int
    streams_ok: int = 0
    bad_requests_rejected: int = 0
    unexpected: list[str] = field(default_factory=list)
    seconds: float = 0.0
    rss_mb: float | None = None


def rss_mb(pid: int) -> float | None:
    """Resident set size of ``pid`` in MiB (Linux /proc), None if unavailable."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


async def one_stream(client: httpx.AsyncClient, index: int) -> str | None:
    """Run one answer stream to its end; None when it ended well, else what went wrong."""
    question = QUESTIONS[index % len(QUESTIONS)]
    path, body = (
        ("/chat/stream", {"question": question})
        if index % 2 == 0
        else ("/rag/stream", {"input": {"question": question}})
    )
    text = ""
    try:
        async with client.stream("POST", path, json=body) as response:
            if response.status_code != 200:
                return f"{path} -> {response.status_code}"
            async for piece in response.aiter_text():
                text += piece
    except httpx.HTTPError as exc:
        return f"{path}: {type(exc).__name__}: {exc}"
    if "event: error" in text:
        return f"{path}: error event: {text[-300:]}"
    final = "event: done" if path == "/chat/stream" else "event: end"
    return None if final in text else f"{path}: stream ended without {final!r}"


BAD_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("/chat", {"content": b'{"question": ', "headers": {"content-type": "application/json"}}),
    ("/chat", {"json": {"question": "x" * 100_000}}),
    (
        "/rag/invoke",
        {"json": {"input": {"question": "hi"}, "config": {"configurable": {"k": 10**6}}}},
    ),
    ("/rag/invoke", {"json": {"input": {"question": 123}}}),
    ("/rag/stream", {"json": {"input": {"question": "hi"}, "surprise": 1}}),
    ("/chat/stream", {"content": b"question=hi", "headers": {"content-type": "text/plain"}}),
]


async def one_bad_request(client: httpx.AsyncClient, index: int) -> str | None:
    """Send a bad request; None when the server rejected it with a 4xx in our error shape."""
    path, kwargs = BAD_REQUESTS[index % len(BAD_REQUESTS)]
    try:
        response = await client.post(path, **kwargs)
    except httpx.HTTPError as exc:
        return f"bad request to {path}: {type(exc).__name__}"
    if not 400 <= response.status_code < 500:
        return f"bad request to {path} -> {response.status_code}"
    if "error" not in response.json():
        return f"bad request to {path}: not our error shape"
    return None


async def run_round(
    client: httpx.AsyncClient, number: int, streams: int, pid: int | None
) -> RoundReport:
    """One round: ``streams`` concurrent streams plus ``streams // 4`` bad requests."""
    report = RoundReport(number)
    started = time.perf_counter()
    stream_tasks = [one_stream(client, number * streams + i) for i in range(streams)]
    bad_tasks = [one_bad_request(client, number * streams + i) for i in range(max(1, streams // 4))]
    results = await asyncio.gather(*stream_tasks, *bad_tasks)
    for i, problem in enumerate(results):
        if problem:
            report.unexpected.append(problem)
        elif i < streams:
            report.streams_ok += 1
        else:
            report.bad_requests_rejected += 1
    report.seconds = round(time.perf_counter() - started, 2)
    report.rss_mb = rss_mb(pid) if pid else None
    return report


async def run_load(
    url: str, streams: int, rounds: int, pid: int | None, timeout: float
) -> list[RoundReport]:
    """All rounds, one after the other, over one connection pool sized for the streams."""
    limits = httpx.Limits(max_connections=streams * 2, max_keepalive_connections=streams)
    async with httpx.AsyncClient(base_url=url, timeout=timeout, limits=limits) as client:
        return [await run_round(client, n, streams, pid) for n in range(rounds)]


def summarize(reports: list[RoundReport], max_rss_growth_mb: float) -> dict[str, Any]:
    """The JSON report, with ``ok`` false on unexpected errors or RSS growth beyond the bound."""
    unexpected = [problem for r in reports for problem in r.unexpected]
    rss = [r.rss_mb for r in reports if r.rss_mb is not None]
    growth = round(rss[-1] - rss[0], 1) if len(rss) >= 2 else None
    return {
        "ok": not unexpected and (growth is None or growth <= max_rss_growth_mb),
        "rounds": [r.__dict__ for r in reports],
        "unexpected": unexpected[:20],
        "unexpected_count": len(unexpected),
        "rss_growth_mb": growth,
        "max_rss_growth_mb": max_rss_growth_mb,
    }


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point: run the load and print the report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--streams", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pid", type=int, help="server process id, to sample its RSS")
    parser.add_argument("--timeout", type=float, default=600.0, help="seconds per request")
    parser.add_argument("--max-rss-growth-mb", type=float, default=50.0)
    args = parser.parse_args(argv)
    reports = asyncio.run(run_load(args.url, args.streams, args.rounds, args.pid, args.timeout))
    summary = summarize(reports, args.max_rss_growth_mb)
    print(json.dumps(summary, indent=2))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
