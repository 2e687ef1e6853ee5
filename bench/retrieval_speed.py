"""Retrieval latency at 10k (and, with ``--full``, 100k) chunks.

The index is built directly in Chroma from deterministic random unit vectors (embedding 100k real
chunks would take an hour here and tells nothing more about search time) and synthetic texts in the
product's vocabulary (for BM25); the queries are real questions embedded with the real MiniLM,
searched through the same ``IndexReader`` (owner filter, hybrid fusion) the chain uses. So the
latency is what a request pays: query embedding + dense search + BM25 + fusion. The lexical index
is built on the first search; that one-off cost is reported apart.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from rag_chain.retrieval import IndexReader
from rag_core.names import OWNER_KEY, SHARED_OWNER, SOURCE_KEY
from rag_core.settings import load_settings
from rag_core.vectorstore import COLLECTION_METADATA, make_chroma_client

from bench.corpus import QuestionPool, chunk_texts, unit_vectors
from bench.stats import Figure, percentile

DIM = 384
#: Target for p50 at 100k chunks (and, a fortiori, at 10k).
P50_TARGET_MS = 25.0


def build_synthetic_index(data_dir: Path, size: int) -> float:
    """Fill a fresh collection with ``size`` synthetic chunks; returns the seconds it took."""
    settings = load_settings(data_dir=data_dir, collection="synthetic")
    client = make_chroma_client(settings)
    collection = client.create_collection(settings.collection, metadata=COLLECTION_METADATA)
    started = time.perf_counter()
    done = 0
    texts = chunk_texts(size)
    for block in unit_vectors(size, DIM):
        ids = [f"c{done + i}" for i in range(len(block))]
        collection.add(
            ids=ids,
            embeddings=block,
            documents=[next(texts) for _ in block],
            metadatas=[
                {OWNER_KEY: SHARED_OWNER, SOURCE_KEY: f"doc-{(done + i) // 20}.md"}
                for i in range(len(block))
            ],
        )
        done += len(block)
    return time.perf_counter() - started


def measure_retrieval(
    sizes: tuple[int, ...], queries: int, embeddings: Embeddings, work: Path
) -> tuple[list[Figure], dict[str, Any]]:
    """p50/p99 of IndexReader.search (k = RAG_TOP_K) per index size."""
    figures: list[Figure] = []
    raw: dict[str, Any] = {}
    pool = QuestionPool()
    questions = [pool.take() for _ in range(queries)]
    for size in sizes:
        data_dir = work / f"retrieval-{size}"
        build_seconds = build_synthetic_index(data_dir, size)
        settings = load_settings(data_dir=data_dir, collection="synthetic")
        reader = IndexReader(settings, embeddings)
        started = time.perf_counter()
        reader.lexical()  # built once per store change: read and tokenize every chunk
        lexical_seconds = time.perf_counter() - started
        for question in questions[:3]:  # warm-up: open the collection, load the HNSW index
            reader.search(question, settings.top_k)
        dense_only = IndexReader(settings.model_copy(update={"hybrid": False}), embeddings)
        dense_only.search(questions[0], settings.top_k)
        latencies, dense_latencies = [], []
        for question in questions:  # interleaved: both see the same load
            started = time.perf_counter()
            reader.search(question, settings.top_k)
            latencies.append(time.perf_counter() - started)
            started = time.perf_counter()
            dense_only.search(question, settings.top_k)
            dense_latencies.append(time.perf_counter() - started)
        p50, p99 = percentile(latencies, 50), percentile(latencies, 99)
        label = f"{size // 1000}k" if size >= 1000 else str(size)
        note = f"{queries} queries; index built in {build_seconds:.0f} s"
        figures.append(
            Figure(
                f"retrieval p50 at {label} chunks",
                None if p50 is None else p50 * 1000,
                "ms",
                target=P50_TARGET_MS,
                op="<=",
                note=note + "; query embedding included",
            )
        )
        figures.append(
            Figure(f"retrieval p99 at {label} chunks", None if p99 is None else p99 * 1000, "ms")
        )
        dense_p50 = percentile(dense_latencies, 50)
        figures.append(
            Figure(
                f"hybrid vs dense-only retrieval at {label} chunks (p50)",
                None if p50 is None else p50 * 1000,
                "ms",
                baseline=None if dense_p50 is None else dense_p50 * 1000,
                note="what BM25 + fusion add to a request, same queries interleaved",
            )
        )
        figures.append(
            Figure(
                f"lexical index build at {label} chunks",
                lexical_seconds,
                "s",
                note="once at start and after each ingest (new chunks only are tokenized)",
            )
        )
        raw[str(size)] = {
            "build_seconds": build_seconds,
            "lexical_seconds": lexical_seconds,
            "latencies": latencies,
            "dense_latencies": dense_latencies,
        }
    return figures, raw
