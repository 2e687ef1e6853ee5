"""``python -m bench --tiny --only stores`` on a real pgvector: pgvector's figures stand beside
Chroma's, each against Chroma measured in the same run, and the bench leaves no database behind.

The bench is pointed at the session's pgvector server through RAG_PGVECTOR_URL, the variable a
user sets (the bundled start is the tests' own fixture code, and ``test_bench.py``'s full tiny run
starts one of its own). No timing is asserted: the machine is shared.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.slow

#: Every row of the store sections, in the order the table prints them.
FIGURES = [
    ("pgvector ingest throughput", "chunks/s"),
    ("retrieval p50 at 300 chunks", "ms"),
    ("retrieval p99 at 300 chunks", "ms"),
    ("hybrid vs dense-only retrieval at 300 chunks (p50)", "ms"),
    ("lexical index build at 300 chunks", "s"),
    ("pgvector retrieval p50 at 300 chunks", "ms"),
    ("pgvector retrieval p99 at 300 chunks", "ms"),
    ("pgvector dense-only retrieval p50 at 300 chunks", "ms"),
    ("pgvector lexical index build at 300 chunks", "s"),
    ("pgvector synthetic write at 300 chunks", "chunks/s"),
]
STORE_SAMPLES = {
    "build_seconds",
    "write_chunks_per_second",
    "lexical_seconds",
    "latencies",
    "dense_latencies",
}


@pytest.mark.timeout(900)
def test_tiny_store_sections_report_pgvector_against_chroma(
    pgvector_server: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bench.__main__ import main

    monkeypatch.setenv("RAG_PGVECTOR_URL", pgvector_server.admin_url)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    databases = pgvector_server.database_names()

    assert main(["--tiny", "--only", "stores", "--results", str(tmp_path)]) == 0

    [result] = list(tmp_path.glob("*-tiny-stores.json"))
    body = json.loads(result.read_text())
    assert [(f["name"], f["unit"]) for f in body["figures"]] == FIGURES
    for figure in body["figures"]:
        assert figure["value"] > 0, figure["name"]
        if figure["name"].startswith("pgvector"):
            # the baseline is Chroma's figure of the same run, the ratio pgvector ÷ Chroma
            assert figure["baseline"] > 0, figure["name"]
            assert figure["ratio"] == pytest.approx(figure["value"] / figure["baseline"])
    by_name = {f["name"]: f for f in body["figures"]}
    chroma_p50 = by_name["retrieval p50 at 300 chunks"]["value"]
    assert by_name["pgvector retrieval p50 at 300 chunks"]["baseline"] == chroma_p50

    samples = body["samples"]
    assert samples["only"] == "stores"
    assert set(samples) == {"profile", "only", "pgvector_server", "store_ingest", "retrieval"}
    assert samples["pgvector_server"]["server"] == "RAG_PGVECTOR_URL"
    assert samples["pgvector_server"]["pgvector"].startswith("0.")
    ingest = samples["store_ingest"]
    assert set(ingest) == {"chunks", "chroma", "pgvector"}
    assert ingest["chunks"] > 0 and len(ingest["chroma"]) == len(ingest["pgvector"]) == 1
    assert list(samples["retrieval"]) == ["300"]
    for store in ("chroma", "pgvector"):
        measured = samples["retrieval"]["300"][store]
        assert set(measured) == STORE_SAMPLES
        assert len(measured["latencies"]) == len(measured["dense_latencies"]) == 5
        assert measured["write_chunks_per_second"] == pytest.approx(300 / measured["build_seconds"])

    assert pgvector_server.database_names() == databases, "the bench dropped what it created"
