"""Ingest survives SIGKILL mid-run, and a server keeps serving while ingest writes the same store.

A few hundred synthetic Markdown files make the run long enough to kill it while it writes. The
re-run must leave exactly what a clean run leaves: the same chunk count, no duplicate ids, no
duplicate (source, content) pairs, read straight from Chroma.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import chromadb
import httpx
import pytest
from rag_core.settings import DEFAULT_COLLECTION

from tests.conftest import BIN, run_ingest, wait_until
from tests.support.servers import LiveServer

pytestmark = pytest.mark.slow

FILES = 300


def make_corpus(folder: Path, files: int = FILES) -> Path:
    """``files`` Markdown files with a few distinct sections each."""
    folder.mkdir(parents=True)
    for i in range(files):
        sections = "\n\n".join(
            f"## Topic {i}.{j}\n\nFeature {i}-{j} of the synthetic product controls widget "
            f"{i * 7 + j} and accepts value {i * 13 + j}. " * 3
            for j in range(3)
        )
        (folder / f"doc-{i:04d}.md").write_text(f"# Document {i}\n\n{sections}\n")
    return folder


def chroma_contents(data_dir: Path) -> tuple[list[str], list[tuple[str, str]]]:
    """Every id and every (source, content) pair in the collection."""
    client = chromadb.PersistentClient(path=str(data_dir / "chroma"))
    got = client.get_collection(DEFAULT_COLLECTION).get(include=["documents", "metadatas"])
    pairs = [
        (str((meta or {}).get("source")), doc or "")
        for meta, doc in zip(got["metadatas"] or [], got["documents"] or [], strict=True)
    ]
    return list(got["ids"]), pairs


def recorded_chunks(records_db: Path) -> int:
    """Chunks the ingest record manager has recorded as written (0 while it cannot be read)."""
    if not records_db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{records_db}?mode=ro", uri=True, timeout=0.1) as db:
            return int(db.execute("SELECT COUNT(*) FROM upsertion_record").fetchone()[0])
    except sqlite3.Error:
        return 0


def _ingest_env(base: dict[str, str], data_dir: Path) -> dict[str, str]:
    return {**base, "RAG_DATA_DIR": str(data_dir)}


@pytest.mark.timeout(1500)
def test_sigkill_mid_ingest_then_rerun_equals_a_clean_run(
    rag_env: dict[str, str], tmp_path: Path
) -> None:
    corpus = make_corpus(tmp_path / "corpus")
    clean_dir, crashed_dir = tmp_path / "clean", tmp_path / "crashed"

    clean = run_ingest(str(corpus), "--json", env=_ingest_env(rag_env, clean_dir), timeout=900)
    assert clean.returncode == 0, clean.stderr
    clean_ids, clean_pairs = chroma_contents(clean_dir)

    env = {**os.environ, **_ingest_env(rag_env, crashed_dir)}
    process = subprocess.Popen(
        [str(BIN / "rag-ingest"), "--no-progress", str(corpus)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    records = crashed_dir / "ingest-records.sqlite"
    deadline = time.monotonic() + 300
    # Kill once the first batches are recorded as written: the run is mid-way through its files.
    while time.monotonic() < deadline and process.poll() is None:
        if recorded_chunks(records) > 0:
            break
        time.sleep(0.05)
    assert process.poll() is None, (
        "ingest finished before it could be killed; make the corpus bigger"
    )
    process.send_signal(signal.SIGKILL)
    process.wait(timeout=30)
    partial_ids, _ = chroma_contents(crashed_dir)
    print(f"killed with {len(partial_ids)} of {len(clean_ids)} chunks written")
    assert len(partial_ids) < len(clean_ids)

    rerun = run_ingest(str(corpus), "--json", env=_ingest_env(rag_env, crashed_dir), timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    ids, pairs = chroma_contents(crashed_dir)
    assert len(ids) == len(clean_ids), (len(ids), len(clean_ids))
    assert len(set(ids)) == len(ids)
    assert not [pair for pair, n in Counter(pairs).items() if n > 1]
    assert sorted(pairs) == sorted(clean_pairs)
    again = run_ingest(str(corpus), "--json", env=_ingest_env(rag_env, crashed_dir))
    report = json.loads(again.stdout)
    assert report.get("added", 0) == 0 and report.get("deleted", 0) == 0, report


@pytest.mark.timeout(900)
def test_ingest_while_serving(
    sample_index: dict[str, str], live_server: Callable[..., LiveServer], tmp_path: Path
) -> None:
    """No server errors while ingest writes the store the server reads, and it then finds the
    new chunks without a restart (the embedded store is reopened when its files change)."""
    data_dir = tmp_path / "data"
    env = {**sample_index, "RAG_DATA_DIR": str(data_dir), "RAG_SCORE_THRESHOLD": "0.0"}
    shutil.copytree(sample_index["RAG_DATA_DIR"], data_dir)
    server = live_server(env, RAG_LLM_MAX_TOKENS="16")
    before = httpx.get(f"{server.url}/health", timeout=10).json()["documents"]
    corpus = make_corpus(tmp_path / "more", files=60)
    process = subprocess.Popen(
        [str(BIN / "rag-ingest"), "--no-progress", str(corpus)],
        env={**os.environ, **env},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    question = {"input": {"question": "Feature 10-1 of the synthetic product controls widget 71"}}
    statuses: Counter[int] = Counter()
    with httpx.Client(base_url=server.url, timeout=120) as client:
        while process.poll() is None:
            statuses[client.get("/health").status_code] += 1
            statuses[client.post("/retriever/invoke", json=question).status_code] += 1
            statuses[client.post("/chat", json=question["input"]).status_code] += 1
        assert process.returncode == 0, process.stderr.read() if process.stderr else ""
        after = client.get("/health").json()["documents"]

        def finds_new_chunks() -> bool:
            hits = client.post("/retriever/invoke", json=question).json()["output"]
            return any(hit["source"].startswith("doc-") for hit in hits)

        assert wait_until(finds_new_chunks, timeout=10, step=0.5)
    print(f"during ingest {dict(statuses)}; chunks {before} -> {after}")
    assert set(statuses) == {200}, statuses
    assert after > before
