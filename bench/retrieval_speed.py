"""Retrieval latency at 10k (and, with ``--full``, 100k) chunks: Chroma, and pgvector against it.

The index is built from deterministic random unit vectors (embedding 100k real chunks would take
an hour here and tells nothing more about search time) and synthetic texts in the product's
vocabulary (for BM25); the queries are real questions embedded with the real MiniLM, searched
through the same ``IndexReader`` (owner filter, hybrid fusion) the chain uses. So the latency is
what a request pays: query embedding + dense search + BM25 + fusion. The lexical index is built on
the first search; that one-off cost is reported apart.

Both stores get the same chunks (ids, texts, vectors, metadata) through the write path ingest uses
(``make_vectorstore(create=True).add_texts`` in ingest's batch size; for pgvector that includes
keeping its HNSW index), which gives each store's write throughput too. The same questions then go
to both in turn, the order alternating, so pgvector is a ratio against Chroma measured under the
same load on the same machine (pgvector runs in a fresh database of :class:`PgvectorHost`).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from rag_chain.retrieval import IndexReader
from rag_core.names import OWNER_KEY, SHARED_OWNER, SOURCE_KEY
from rag_core.settings import Settings, load_settings
from rag_core.vectorstore import make_vectorstore

from bench.corpus import QuestionPool, SyntheticEmbeddings, chunk_texts
from bench.pgvector_server import STORES, PgvectorHost, drop_store_database, in_turn
from bench.stats import Figure, percentile

DIM = 384
#: Target for p50 at 100k chunks (and, a fortiori, at 10k).
P50_TARGET_MS = 25.0


def build_synthetic_index(settings: Settings, size: int) -> float:
    """Write ``size`` synthetic chunks into the settings' store; returns the seconds it took."""
    from ingest.indexer import BATCH_CHUNKS

    store = make_vectorstore(settings, SyntheticEmbeddings(DIM), create=True)
    texts = chunk_texts(size)
    started = time.perf_counter()
    for first in range(0, size, BATCH_CHUNKS):
        numbers = range(first, min(first + BATCH_CHUNKS, size))
        store.add_texts(
            [next(texts) for _ in numbers],
            metadatas=[{OWNER_KEY: SHARED_OWNER, SOURCE_KEY: f"doc-{n // 20}.md"} for n in numbers],
            ids=[f"c{n}" for n in numbers],
        )
    return time.perf_counter() - started


def measure_retrieval(
    sizes: tuple[int, ...],
    queries: int,
    embeddings: Embeddings,
    work: Path,
    pgvector: PgvectorHost,
) -> tuple[list[Figure], dict[str, Any]]:
    """p50/p99 of IndexReader.search (k = RAG_TOP_K) per index size, on Chroma and pgvector."""
    figures: list[Figure] = []
    raw: dict[str, Any] = {}
    pool = QuestionPool()
    questions = [pool.take() for _ in range(queries)]
    for size in sizes:
        stores = {
            "chroma": load_settings(
                data_dir=work / f"retrieval-{size}", collection="synthetic", vectorstore="chroma"
            ),
            "pgvector": load_settings(
                data_dir=work / f"retrieval-{size}-pg",
                collection="synthetic",
                vectorstore="pgvector",
                pgvector_url=pgvector.new_database("rag_bench_"),
            ),
        }
        try:
            samples = {
                name: _measure_store(s, size, embeddings, questions[:3])
                for name, s in stores.items()
            }
            _search_in_turn(stores, embeddings, questions, samples)
        finally:
            drop_store_database(pgvector, stores["pgvector"])
        figures += _figures(size, queries, samples)
        raw[str(size)] = samples
    return figures, raw


def _measure_store(
    settings: Settings, size: int, embeddings: Embeddings, warm_up: list[str]
) -> dict[str, Any]:
    """Build the store's index and its lexical side; warm both readers up."""
    build_seconds = build_synthetic_index(settings, size)
    reader = IndexReader(settings, embeddings)
    started = time.perf_counter()
    reader.lexical()  # built once per store change: read and tokenize every chunk
    lexical_seconds = time.perf_counter() - started
    for question in warm_up:  # open the collection, load the HNSW index
        reader.search(question, settings.top_k)
    return {
        "build_seconds": build_seconds,
        "write_chunks_per_second": size / build_seconds,
        "lexical_seconds": lexical_seconds,
        "latencies": [],
        "dense_latencies": [],
        "reader": reader,
    }


def _search_in_turn(
    stores: dict[str, Settings],
    embeddings: Embeddings,
    questions: list[str],
    samples: dict[str, dict[str, Any]],
) -> None:
    """Each question on each store, hybrid then dense-only; the store order alternates."""
    dense = {
        name: IndexReader(s.model_copy(update={"hybrid": False}), embeddings)
        for name, s in stores.items()
    }
    for name in STORES:
        dense[name].search(questions[0], stores[name].top_k)
    for number, question in enumerate(questions):
        for name in in_turn(number):
            k = stores[name].top_k
            started = time.perf_counter()
            samples[name]["reader"].search(question, k)
            samples[name]["latencies"].append(time.perf_counter() - started)
            started = time.perf_counter()
            dense[name].search(question, k)
            samples[name]["dense_latencies"].append(time.perf_counter() - started)
    for name in STORES:
        del samples[name]["reader"]


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000


def _figures(size: int, queries: int, samples: dict[str, dict[str, Any]]) -> list[Figure]:
    """Chroma's figures (with their targets), then pgvector's, each against Chroma's."""
    chroma, pg = samples["chroma"], samples["pgvector"]
    label = f"{size // 1000}k" if size >= 1000 else str(size)
    p50 = {name: _ms(percentile(s["latencies"], 50)) for name, s in samples.items()}
    p99 = {name: _ms(percentile(s["latencies"], 99)) for name, s in samples.items()}
    dense = {name: _ms(percentile(s["dense_latencies"], 50)) for name, s in samples.items()}
    note = f"{queries} queries; index built in {chroma['build_seconds']:.0f} s"
    vs = "same questions, the store order alternating; baseline = Chroma"
    return [
        Figure(
            f"retrieval p50 at {label} chunks",
            p50["chroma"],
            "ms",
            target=P50_TARGET_MS,
            op="<=",
            note=note + "; query embedding included",
        ),
        Figure(f"retrieval p99 at {label} chunks", p99["chroma"], "ms"),
        Figure(
            f"hybrid vs dense-only retrieval at {label} chunks (p50)",
            p50["chroma"],
            "ms",
            baseline=dense["chroma"],
            note="what BM25 + fusion add to a request, same queries interleaved",
        ),
        Figure(
            f"lexical index build at {label} chunks",
            chroma["lexical_seconds"],
            "s",
            note="once at start and after each ingest (new chunks only are tokenized)",
        ),
        Figure(
            f"pgvector retrieval p50 at {label} chunks",
            p50["pgvector"],
            "ms",
            baseline=p50["chroma"],
            note=f"hybrid, as served; {vs}",
        ),
        Figure(
            f"pgvector retrieval p99 at {label} chunks",
            p99["pgvector"],
            "ms",
            baseline=p99["chroma"],
            note=vs,
        ),
        Figure(
            f"pgvector dense-only retrieval p50 at {label} chunks",
            dense["pgvector"],
            "ms",
            baseline=dense["chroma"],
            note="HNSW search + owner filter, no BM25; " + vs,
        ),
        Figure(
            f"pgvector lexical index build at {label} chunks",
            pg["lexical_seconds"],
            "s",
            baseline=chroma["lexical_seconds"],
            note="every chunk read from the table; baseline = Chroma",
        ),
        Figure(
            f"pgvector synthetic write at {label} chunks",
            pg["write_chunks_per_second"],
            "chunks/s",
            baseline=chroma["write_chunks_per_second"],
            note="ingest's write path and batch size, no embedding (HNSW kept up to date); "
            "baseline = Chroma",
        ),
    ]
