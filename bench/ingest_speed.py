"""Ingest throughput against raw sentence-transformers, and the cost of an unchanged re-ingest.

Measured in-process with ``ingest.Ingestor`` (what ``rag-ingest`` runs), so interpreter start-up and
the ~5 s model load are not counted on either side: the subject gets the already-loaded embeddings,
the baseline its own loaded ``SentenceTransformer``. The re-ingest uses a fresh ``Ingestor`` with
the default lazy embeddings, exactly like a second ``rag-ingest`` run, which must embed nothing.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from langchain_core.embeddings import Embeddings
from rag_core.settings import Settings, load_settings

from bench.corpus import write_markdown_corpus
from bench.profiles import Profile
from bench.stats import Figure, median


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


def _raw_encode(model: Any, texts: list[str], batch: int) -> float:
    started = time.perf_counter()
    model.encode(texts, batch_size=batch, normalize_embeddings=True)
    return len(texts) / (time.perf_counter() - started)
