"""Ingest throughput against raw sentence-transformers, the cost of an unchanged re-ingest, and
ingest into pgvector against ingest into Chroma.

Measured in-process with ``ingest.Ingestor`` (what ``rag-ingest`` runs), so interpreter start-up and
the ~5 s model load are not counted on either side: the subject gets the already-loaded embeddings,
the baseline its own loaded ``SentenceTransformer``. The re-ingest uses a fresh ``Ingestor`` with
the default lazy embeddings, exactly like a second ``rag-ingest`` run, which must embed nothing.
The store comparison runs the same ``Ingestor`` on the same folder into a fresh embedded Chroma and
a fresh pgvector database in turn (the order alternating), so the ratio is what a team pays for
pgvector on a real ingest, embedding included.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from langchain_core.embeddings import Embeddings
from rag_core.settings import Settings, load_settings

from bench.corpus import write_markdown_corpus
from bench.pgvector_server import STORES, PgvectorHost, drop_store_database, in_turn
from bench.profiles import Profile
from bench.stats import Figure, median, median_ci

if TYPE_CHECKING:
    from ingest.indexer import IndexReport


def corpus_texts(folder: Path, settings: Settings) -> list[str]:
    """The chunk texts ingest will embed, for the raw baseline to encode too."""
    from ingest.chunking import chunk_segments
    from ingest.loaders import load_segments

    texts = []
    for path in sorted(folder.glob("*.md")):
        docs = chunk_segments(
            load_segments(path),
            source=path.name,
            chunk_size=settings.chunk_size,
            chunk_overlap=settings.chunk_overlap,
        )
        texts += [doc.page_content for doc in docs]
    return texts


def measure_ingest(
    profile: Profile, embeddings: Embeddings, work: Path
) -> tuple[list[Figure], dict[str, Any]]:
    """Interleave raw encodes and first ingests; after each first ingest, an unchanged re-run."""
    from rag_core.embeddings import local_model_path
    from sentence_transformers import SentenceTransformer

    from ingest.indexer import Ingestor

    folder = work / "ingest-corpus"
    write_markdown_corpus(folder, profile.ingest_files, profile.ingest_paragraphs)
    texts = corpus_texts(folder, load_settings(data_dir=work / "unused"))
    model = SentenceTransformer(local_model_path(), device="cpu")
    batch = load_settings(data_dir=work / "unused").embeddings_batch_size
    model.encode(texts[:8], batch_size=batch, normalize_embeddings=True)  # warm-up
    ours, raw, first, again, reembedded = [], [], [], [], []
    for rep in range(profile.ingest_reps):
        with tempfile.TemporaryDirectory(dir=work) as tmp:
            settings = load_settings(data_dir=Path(tmp) / "data", collection="bench")
            if rep % 2:
                raw.append(_raw_encode(model, texts, batch))
            report = Ingestor(settings, embeddings=embeddings).run([folder], progress=False)
            ours.append((report.added + report.updated) / report.seconds)
            first.append(report.seconds)
            if rep % 2 == 0:
                raw.append(_raw_encode(model, texts, batch))
            rerun = Ingestor(settings)
            started = time.perf_counter()
            second = rerun.run([folder], progress=False)
            again.append(time.perf_counter() - started)
            reembedded.append(second.added + second.updated)
    pairs = list(zip(again, first, strict=True))
    figures = [
        Figure(
            "ingest throughput",
            median(ours),
            "chunks/s",
            target=0.9,
            op=">=",
            baseline=median(raw),
            paired_ratio=median([o / r for o, r in zip(ours, raw, strict=True)]),
            note=f"{len(texts)} chunks × {profile.ingest_reps}; in-process Ingestor vs raw "
            "SentenceTransformer.encode",
        ),
        Figure(
            "unchanged re-ingest",
            median(again),
            "s",
            target=0.02,
            op="<=",
            baseline=median(first),
            paired_ratio=median([a / f for a, f in pairs]),
            note=f"in-process (no interpreter start-up); chunks re-embedded: {max(reembedded)}",
        ),
    ]
    return figures, {"chunks": len(texts), "ours": ours, "raw": raw, "first": first, "again": again}


def measure_store_ingest(
    profile: Profile, embeddings: Embeddings, work: Path, pgvector: PgvectorHost
) -> tuple[list[Figure], dict[str, Any]]:
    """First ingest of the same folder into Chroma and into pgvector, ``ingest_reps`` times each.

    One unmeasured ingest of a single file into each store comes first: the first use of a store
    in a process pays imports and set-up that no later ingest does (seen: the first of two 6-chunk
    ingests 3× slower than the second, whichever the store).
    """
    folder = work / "ingest-corpus"
    [first, *_] = write_markdown_corpus(folder, profile.ingest_files, profile.ingest_paragraphs)
    warm_up = work / "ingest-warm-up"
    warm_up.mkdir(exist_ok=True)
    shutil.copy(first, warm_up)
    for store in STORES:
        _ingest_into(store, warm_up, embeddings, work, pgvector)
    rates: dict[str, list[float]] = {"chroma": [], "pgvector": []}
    chunks = 0
    for rep in range(profile.ingest_reps):
        for store in in_turn(rep):
            report = _ingest_into(store, folder, embeddings, work, pgvector)
            chunks = report.added + report.updated
            rates[store].append(chunks / report.seconds)
    ratios = [p / c for p, c in zip(rates["pgvector"], rates["chroma"], strict=True)]
    figure = Figure(
        "pgvector ingest throughput",
        median(rates["pgvector"]),
        "chunks/s",
        baseline=median(rates["chroma"]),
        paired_ratio=median(ratios),
        ratio_ci=median_ci(ratios),
        note=f"{chunks} chunks × {profile.ingest_reps}; in-process Ingestor, embedding included, "
        "each run into a fresh store; baseline = Chroma",
    )
    return [figure], {"chunks": chunks, **rates}


def _ingest_into(
    store: str, folder: Path, embeddings: Embeddings, work: Path, pgvector: PgvectorHost
) -> IndexReport:
    """The Ingestor's report of a first ingest of ``folder`` into a fresh store of that kind."""
    from ingest.indexer import Ingestor

    with tempfile.TemporaryDirectory(dir=work) as tmp:
        url = pgvector.new_database("rag_bench_") if store == "pgvector" else None
        settings = load_settings(
            data_dir=Path(tmp) / "data", collection="bench", vectorstore=store, pgvector_url=url
        )
        try:
            return Ingestor(settings, embeddings=embeddings).run([folder], progress=False)
        finally:
            if url:
                drop_store_database(pgvector, settings)


def _raw_encode(model: Any, texts: list[str], batch: int) -> float:
    started = time.perf_counter()
    model.encode(texts, batch_size=batch, normalize_embeddings=True)
    return len(texts) / (time.perf_counter() - started)
