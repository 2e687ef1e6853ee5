"""Memory of each part of a team deployment, measured on this machine (README "Deploy for a team").

``python -m bench.deploy_memory [--questions 20] [--synthetic-chunks 10000]`` builds the layout on
loopback and prints one JSON report: a Chroma server holding the ingested samples (then also N
synthetic chunks); ``rag-ingest`` (the same pipeline the upload child runs); a ``rag-serve``
replica in the team layout (model behind HTTP: the loopback Ollama stub; history in PostgreSQL,
limits in Redis, vectors in the Chroma server; question embeddings by the bundled MiniLM in NumPy),
after ``--questions`` answered turns; and a replica with the embedded llama.cpp worker, after a few
generated answers. RSS is read from /proc (``VmRSS`` now, ``VmHWM`` peak); PostgreSQL and Redis
are the machine's own servers, so for them it reports what the test data added (table bytes, key
bytes), not their base size.

Why a script: sizing a deployment from figures nobody can re-run is guessing; run it on your CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import platform
import resource
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx
import redis

from tests.support.chroma import ChromaServer
from tests.support.llm_stub_server import StubLLMServer
from tests.support.servers import BIN, LiveServer, clean_env, free_port, start_server
from tests.support.services import drop_tables, require_postgres, require_redis, unique_prefix

ROOT = Path(__file__).resolve().parent.parent
QUESTIONS = [
    "Which port does Quillfeather listen on?",
    "How much does the Team plan cost?",
    "What does error QF-104 mean?",
    "How do I export a notebook?",
]
MIB = 1024 * 1024


def _status_mib(pid: int) -> dict[str, float]:
    """VmRSS (now) and VmHWM (peak) of one process, in MiB."""
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            fields[name] = round(int(value.split()[0]) / 1024, 1)
    return {"rss_mib": fields["VmRSS"], "peak_mib": fields["VmHWM"]}


def _ask(server: LiveServer, count: int, headers: dict[str, str] | None = None) -> None:
    for i in range(count):
        body = {"question": QUESTIONS[i % len(QUESTIONS)], "session_id": "memory"}
        response = httpx.post(f"{server.url}/chat", json=body, headers=headers, timeout=300)
        response.raise_for_status()


def _cpu() -> str:
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor()


def measure(questions: int, synthetic: int, work: Path) -> dict[str, Any]:
    """Start each part, use it, and read its memory."""
    report: dict[str, Any] = {"cpu": _cpu(), "cores": len(_cpu_list())}
    database, redis_url, prefix = require_postgres(), require_redis(), unique_prefix("mem")
    chroma = ChromaServer(work / "chroma", free_port(), work / "chroma.log")
    chroma.start()
    try:
        env = clean_env(RAG_DATA_DIR=str(work / "ingest"), RAG_CHROMA_URL=chroma.url)
        ingest = subprocess.run(
            [str(BIN / "rag-ingest"), "--no-progress", "--json", str(ROOT / "samples")],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        chunks = json.loads(ingest.stdout.strip().splitlines()[-1])["chunks_total"]
        peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        report["rag_ingest"] = {"peak_mib": round(peak_kib / 1024, 1), "chunks": chunks}
        with StubLLMServer(reply="Port 7420.") as stub:
            team = {
                **env,
                "RAG_DATA_DIR": str(work / "replica"),
                "RAG_LLM": "ollama",
                "RAG_OLLAMA_BASE_URL": stub.base_url,
                "RAG_DATABASE_URL": database,
                "RAG_TABLE_PREFIX": prefix,
                "RAG_REDIS_URL": redis_url,
                "RAG_REDIS_PREFIX": prefix,
                "RAG_RATE_LIMIT_BURST": str(questions),  # one full window per client
            }
            replica = start_server(team, log_path=work / "replica.log")
            try:
                _ask(replica, questions)
                report["replica_remote_model"] = _status_mib(replica.process.pid)
            finally:
                replica.stop()
        report["chroma_server"] = {**_status_mib(_pid(chroma)), "chunks": chunks}
        if synthetic:
            _fill(chroma, synthetic)
            report["chroma_server_synthetic"] = {**_status_mib(_pid(chroma)), "chunks": synthetic}
        report["postgres_tables_kib"] = asyncio.run(_table_kib(database, prefix))
        report["redis_keys_bytes"] = _redis_bytes(redis_url, prefix)
        report["replica_embedded_llama"] = _embedded(work, questions=3)
    finally:
        chroma.stop()
        asyncio.run(drop_tables(database, prefix))
        client = redis.Redis.from_url(redis_url)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
    return report


def _cpu_list() -> list[str]:
    return [x for x in Path("/proc/cpuinfo").read_text().split("\n\n") if x.strip()]


def _fill(chroma: ChromaServer, count: int, dim: int = 384, batch: int = 1000) -> None:
    """``count`` random unit vectors (MiniLM's size) with 800-character texts, then one query,
    which loads the collection's vector index into the server's memory."""
    import chromadb
    import numpy as np

    client = chromadb.HttpClient(host="127.0.0.1", port=chroma.port)
    collection = client.create_collection("synthetic", metadata={"hnsw:space": "cosine"})
    rng = np.random.default_rng(0)
    for start in range(0, count, batch):
        vectors = rng.standard_normal((min(batch, count - start), dim)).astype(np.float32)
        vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
        ids = [f"c{start + i}" for i in range(len(vectors))]
        collection.add(ids=ids, embeddings=vectors, documents=["lorem ipsum " * 66] * len(ids))
    collection.query(query_embeddings=vectors[:1], n_results=3)


def _pid(chroma: ChromaServer) -> int:
    assert chroma.process is not None
    return chroma.process.pid


def _embedded(work: Path, questions: int) -> dict[str, Any]:
    """The embedded default (llama.cpp worker beside the server), generating answers."""
    ingest_env = clean_env(RAG_DATA_DIR=str(work / "embedded"))
    subprocess.run(
        [str(BIN / "rag-ingest"), "--no-progress", str(ROOT / "samples")],
        env=ingest_env,
        capture_output=True,
        check=True,
        cwd=ROOT,
    )
    env = {**ingest_env, "RAG_ANSWER_MODE": "generate", "RAG_RATE_LIMIT_BURST": "1000000"}
    server = start_server(env, log_path=work / "embedded.log", timeout=300)
    try:
        _ask(server, questions)
        tasks = Path(f"/proc/{server.process.pid}/task").glob("*/children")
        workers = [child for task in tasks for child in task.read_text().split()]
        return {
            "server": _status_mib(server.process.pid),
            "worker": [_status_mib(int(child)) for child in workers],
        }
    finally:
        server.stop()


async def _table_kib(url: str, prefix: str) -> dict[str, float]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                text(
                    "SELECT relname, pg_total_relation_size(c.oid) FROM pg_class c "
                    "WHERE relkind = 'r' AND relname LIKE :p"
                ),
                {"p": f"{prefix}%"},
            )
            return {name: round(size / 1024, 1) for name, size in rows}
    finally:
        await engine.dispose()


def _redis_bytes(url: str, prefix: str) -> dict[str, int]:
    client = redis.Redis.from_url(url)
    return {
        key.decode(): int(client.memory_usage(key) or 0) for key in client.scan_iter(f"{prefix}*")
    }


def main() -> None:
    """Print the JSON report."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=20, help="answered turns per replica")
    parser.add_argument(
        "--synthetic-chunks", type=int, default=10_000, help="extra chunks for Chroma (0: none)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="deploy-memory-") as work:
        print(json.dumps(measure(args.questions, args.synthetic_chunks, Path(work)), indent=2))


if __name__ == "__main__":
    main()
