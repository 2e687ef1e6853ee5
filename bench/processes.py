"""Real server processes for the benchmarks: the product and the seed-style baseline.

Starting, timing until ready, peak memory, stopping and the clean environment are
tests.support.servers' (one helper for tests and benchmarks); this module only says which servers
the benchmarks run, and with what.
"""

from __future__ import annotations

import sys
from pathlib import Path

from tests.support.servers import BIN, LiveServer, clean_env, free_port, launch


def start_rag_server(data_dir: Path, max_tokens: int, log_path: Path) -> LiveServer:
    """The product's own ``rag-serve`` with embedded defaults over ``data_dir``.

    Rate limiting is off: the benchmark measures the pipeline, and its health polling alone would
    exceed a per-client budget meant for people. Answers are generated (``RAG_ANSWER_MODE=generate``):
    the answer-speed figures compare the model's path with raw llama.cpp, and the embedded
    default, extract, never calls the model.
    """
    port = free_port()
    env = clean_env(
        RAG_DATA_DIR=str(data_dir),
        RAG_LLM_MAX_TOKENS=str(max_tokens),
        RAG_RATE_LIMIT_ENABLED="false",
        RAG_ANSWER_MODE="generate",
    )
    command = [str(BIN / "rag-serve"), "--host", "127.0.0.1", "--port", str(port)]
    return launch([*command, "--log-level", "warning"], env, port, log_path)


def start_naive_app(data_dir: Path, max_tokens: int, log_path: Path) -> LiveServer:
    """The seed-style app (``bench/naive_app.py``) under uvicorn, over the same index and model."""
    port = free_port()
    env = clean_env(RAG_DATA_DIR=str(data_dir), RAG_LLM_MAX_TOKENS=str(max_tokens))
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.naive_app:app",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--log-level",
        "warning",
    ]
    return launch(command, env, port, log_path)
