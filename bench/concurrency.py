"""Many clients streaming at once, while a prober checks that the event loop stays responsive.

Half the clients use ``/rag/stream`` and half ``/chat/stream``, each with its own question. The
model serves one generation at a time, so they queue; what must never happen is an error, or the
server's event loop being blocked (which would show as slow ``/health`` answers while they stream).
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx
from httpx_sse import EventSource

from bench.stats import Figure, percentile

HEALTH_EVERY = 0.05


async def _one_stream(client: httpx.AsyncClient, url: str, route: str, question: str) -> str | None:
    """Stream one answer to the end; return an error description, or None when it went well."""
    body: dict[str, Any] = (
        {"input": {"question": question}} if route == "/rag/stream" else {"question": question}
    )
    tokens = 0
    try:
        async with client.stream("POST", f"{url}{route}", json=body) as response:
            if response.status_code != 200:
                return f"{route}: HTTP {response.status_code}"
            async for sse in EventSource(response).aiter_sse():
                if sse.event == "error":
                    return f"{route}: error event"
                if sse.event in ("data", "token"):
                    payload = json.loads(sse.data)
                    if sse.event == "token" or (isinstance(payload, dict) and "answer" in payload):
                        tokens += 1
    except httpx.HTTPError as exc:
        return f"{route}: {type(exc).__name__}"
    return None if tokens else f"{route}: no answer tokens"


async def _probe_health(client: httpx.AsyncClient, url: str, stop: asyncio.Event) -> list[float]:
    """GET /health every 50 ms until ``stop``; the latencies in seconds (errors count as 10 s)."""
    latencies = []
    while not stop.is_set():
        started = time.perf_counter()
        try:
            ok = (await client.get(f"{url}/health")).status_code == 200
        except httpx.HTTPError:
            ok = False
        latencies.append(time.perf_counter() - started if ok else 10.0)
        await asyncio.sleep(HEALTH_EVERY)
    return latencies


async def _run(url: str, questions: list[str]) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=len(questions) + 4)
    async with (
        httpx.AsyncClient(timeout=httpx.Timeout(600.0, connect=10.0), limits=limits) as streams,
        httpx.AsyncClient(timeout=10.0) as prober,
    ):
        stop = asyncio.Event()
        probe = asyncio.create_task(_probe_health(prober, url, stop))
        started = time.perf_counter()
        routes = ["/rag/stream" if i % 2 == 0 else "/chat/stream" for i in range(len(questions))]
        errors = await asyncio.gather(
            *(_one_stream(streams, url, r, q) for r, q in zip(routes, questions, strict=True))
        )
        wall = time.perf_counter() - started
        stop.set()
        health = await probe
    return {
        "clients": len(questions),
        "errors": [e for e in errors if e],
        "wall_seconds": wall,
        "health_latencies": health,
    }


def measure_concurrency(url: str, questions: list[str]) -> tuple[list[Figure], dict[str, Any]]:
    """Run the clients; figures: errors (= 0) and /health p99 (< 50 ms) while they stream."""
    result = asyncio.run(_run(url, questions))
    health = result["health_latencies"]
    p50, p99 = percentile(health, 50), percentile(health, 99)
    note = f"{result['clients']} clients done in {result['wall_seconds']:.1f} s"
    figures = [
        Figure(
            f"{result['clients']} concurrent streams: errors",
            float(len(result["errors"])),
            "errors",
            target=0,
            op="<=",
            note=note + ("; " + ", ".join(result["errors"][:3]) if result["errors"] else ""),
        ),
        Figure(
            "/health p99 while streaming",
            None if p99 is None else p99 * 1000,
            "ms",
            target=50,
            op="<=",
            note=f"{len(health)} probes, p50 {0 if p50 is None else p50 * 1000:.1f} ms",
        ),
    ]
    return figures, {**result, "health_p50": p50, "health_p99": p99}
