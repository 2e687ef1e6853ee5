"""pgvector as the vector store, on a real PostgreSQL with pgvector (tests.support.services).

The same contract as Chroma: rag-ingest writes it incrementally (records in PostgreSQL), the server
answers from it with the same cosine scores, per-user documents stay private, --prune and
--dry-run behave, chunks ingested while serving are found, and ``rag-admin migrate-index`` copies
an index both ways without embedding.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import SAMPLES, run_ingest, wait_until
from tests.support.admin import create_key, run_admin
from tests.support.servers import LiveServer

pytestmark = pytest.mark.slow

PORT_Q = "Which port does Quillfeather listen on?"
SECRET_Q = "What is the launch code of the Quillfeather moon base?"
SECRET = "The launch code of the Quillfeather moon base is ZEBRA-4471.\n"
QUESTIONS = [PORT_Q, "How much does the Team plan cost?", "What does error QF-104 mean?"]


def _pg_env(rag_env: dict[str, str], url: str) -> dict[str, str]:
    return {**rag_env, "RAG_VECTORSTORE": "pgvector", "RAG_PGVECTOR_URL": url}


def _report(result: subprocess.CompletedProcess[str]) -> dict[str, Any]:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _chat(server: LiveServer, question: str, key: str | None = None) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else None
    response = httpx.post(
        f"{server.url}/chat", json={"question": question}, headers=headers, timeout=180
    )
    assert response.status_code == 200, response.text
    return response.json()  # type: ignore[no-any-return]


def _sources(answer: dict[str, Any]) -> set[str]:
    return {s["source"] for s in answer["sources"]}


def _sql(url: str, query: str, *params: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute(query, params).fetchall()  # type: ignore[arg-type]


def test_ingest_serve_users_and_ingest_while_serving(
    pgvector_url: str,
    rag_env: dict[str, str],
    tmp_path: Path,
    live_server: Callable[..., LiveServer],
) -> None:
    env = _pg_env(rag_env, pgvector_url)
    first = _report(run_ingest(str(SAMPLES), "--json", env=env))
    assert first["added"] > 10 and first["chunks_total"] == first["added"]
    assert not (Path(rag_env["RAG_DATA_DIR"]) / "chroma").exists(), "nothing in Chroma"
    assert not (Path(rag_env["RAG_DATA_DIR"]) / "ingest-records.sqlite").exists()
    unchanged = _report(run_ingest(str(SAMPLES), "--json", env=env))
    assert (unchanged["added"], unchanged["deleted"], unchanged["skipped"]) == (
        0,
        0,
        first["added"],
    )

    private = tmp_path / "alice"
    private.mkdir()
    (private / "moon-base.md").write_text("# Moon base\n\n" + SECRET)
    mine = _report(run_ingest(str(private), "--user", "alice", "--json", env=env))
    assert mine["added"] == 1 and mine["chunks_total"] == first["added"] + 1

    env["RAG_AUTH"] = "apikey"
    alice, bob = create_key(env, "alice"), create_key(env, "bob")
    server = live_server(env)
    health = httpx.get(
        f"{server.url}/health", headers={"Authorization": f"Bearer {bob}"}, timeout=10
    ).json()
    assert health["vectorstore"] == "pgvector"
    assert health["index"] == "ready" and health["documents"] == first["added"] + 1

    port = _chat(server, PORT_Q, bob)
    assert "getting-started.md" in _sources(port) and "7420" in port["answer"]

    assert "moon-base.md" in _sources(_chat(server, SECRET_Q, alice))
    assert "ZEBRA-4471" in _chat(server, SECRET_Q, alice)["answer"]
    theirs = _chat(server, SECRET_Q, bob)
    assert "moon-base.md" not in _sources(theirs) and "ZEBRA" not in theirs["answer"]
    listed = httpx.get(
        f"{server.url}/documents", headers={"Authorization": f"Bearer {bob}"}, timeout=30
    ).json()["documents"]
    assert "moon-base.md" not in {d["source"] for d in listed} and len(listed) == first["files"]

    # Ingest while serving: a new shared file is found (dense and BM25) without a restart.
    late = tmp_path / "late"
    late.mkdir()
    (late / "ferry.md").write_text("# Ferry\n\nThe Quillfeather ferry leaves pier KX-9 at dawn.\n")
    assert _report(run_ingest(str(late), "--json", env=env))["added"] == 1
    assert wait_until(
        lambda: "ferry.md" in _sources(_chat(server, "Which pier does the ferry leave from?", bob)),
        timeout=30,
        step=1,
    ), server.log()
    assert "KX-9" in _chat(server, "Which pier does the ferry leave from?", bob)["answer"]


def test_prune_and_dry_run(pgvector_url: str, rag_env: dict[str, str], tmp_path: Path) -> None:
    env = _pg_env(rag_env, pgvector_url)
    docs = tmp_path / "docs"
    shutil.copytree(SAMPLES, docs, ignore=shutil.ignore_patterns("*.py", "*.pdf"))
    first = _report(run_ingest(str(docs), "--json", env=env))
    pricing = _sql(
        pgvector_url,
        "SELECT count(*) FROM langchain_pg_embedding WHERE cmetadata->>'source' = %s",
        "pricing.md",
    )[0][0]
    assert pricing > 0
    (docs / "pricing.md").unlink()

    plan = run_ingest(str(docs), "--prune", "--dry-run", env=env)
    assert plan.returncode == 0, plan.stderr
    assert f"delete   pricing.md ({pricing} chunks)" in plan.stdout
    assert (
        _sql(pgvector_url, "SELECT count(*) FROM langchain_pg_embedding")[0][0]
        == first["chunks_total"]
    ), "a dry run changes nothing"

    pruned = _report(run_ingest(str(docs), "--prune", "--json", env=env))
    assert pruned["deleted"] == pricing and pruned["added"] == 0
    assert pruned["chunks_total"] == first["chunks_total"] - pricing
    assert _sql(
        pgvector_url,
        "SELECT count(*) FROM langchain_pg_embedding WHERE cmetadata->>'source' = %s",
        "pricing.md",
    ) == [(0,)]
    assert _sql(
        pgvector_url, "SELECT count(*) FROM upsertion_record WHERE group_id = %s", "pricing.md"
    ) == [(0,)], "its ingest records are gone too"

    # Same files, same owner, another collection of this database: refused, not misfiled.
    other = run_ingest(str(docs), "--collection", "other", env=env)
    assert other.returncode == 1, other.stderr
    assert "rag-ingest: chunk " in other.stderr and "already belongs to another" in other.stderr
    assert "Traceback" not in other.stderr
    assert (
        _sql(pgvector_url, "SELECT count(*) FROM langchain_pg_embedding")[0][0]
        == pruned["chunks_total"]
    )


def _reader(**overrides: Any) -> Any:
    from rag_chain.retrieval import IndexReader
    from rag_core.embeddings import make_query_embeddings
    from rag_core.settings import load_settings

    settings = load_settings(**overrides)
    return IndexReader(settings, make_query_embeddings(settings))


def test_scores_match_chroma_and_the_search_has_an_hnsw_index(
    pgvector_url: str, sample_index: dict[str, str], rag_env: dict[str, str]
) -> None:
    env = _pg_env(rag_env, pgvector_url)
    _report(run_ingest(str(SAMPLES), "--json", env=env))
    for hybrid in (False, True):
        chroma = _reader(data_dir=sample_index["RAG_DATA_DIR"], hybrid=hybrid)
        pg = _reader(
            data_dir=rag_env["RAG_DATA_DIR"],
            vectorstore="pgvector",
            pgvector_url=pgvector_url,
            hybrid=hybrid,
        )
        for question in QUESTIONS:
            expected = [(h.document.id, h.score) for h in chroma.search(question, 5)]
            got = [(h.document.id, h.score) for h in pg.search(question, 5)]
            assert [i for i, _ in got] == [i for i, _ in expected], (hybrid, question)
            for (_, want), (_, have) in zip(expected, got, strict=True):
                assert abs(want - have) < 1e-3, (hybrid, question, want, have)

    index = _sql(
        pgvector_url, "SELECT indexdef FROM pg_indexes WHERE tablename = 'langchain_pg_embedding'"
    )
    assert any("USING hnsw (embedding vector_cosine_ops)" in row[0] for row in index)
    vector = "[" + ",".join(["0.05"] * 384) + "]"
    with psycopg.connect(pgvector_url) as conn:
        conn.execute("SET enable_seqscan = off")
        plan = conn.execute(
            "EXPLAIN SELECT id FROM langchain_pg_embedding ORDER BY embedding <=> %s LIMIT 3",
            (vector,),
        ).fetchall()
    assert "ix_langchain_pg_embedding_hnsw_cosine" in str(plan)


def test_migrate_to_pgvector_and_back_keeps_counts_and_answers(
    pgvector_url: str,
    sample_index: dict[str, str],
    rag_env: dict[str, str],
    tmp_path: Path,
    live_server: Callable[..., LiveServer],
) -> None:
    chroma_dir = Path(rag_env["RAG_DATA_DIR"])
    shutil.copytree(sample_index["RAG_DATA_DIR"], chroma_dir)
    env = {**_pg_env(rag_env, pgvector_url), "RAG_ANSWER_MODE": "extract"}
    chunks = _reader(data_dir=str(chroma_dir)).count()

    there = run_admin(env, "migrate-index", "--to", "pgvector", "--json", timeout=300)
    assert there.returncode == 0, there.stderr
    report = json.loads(there.stdout)
    assert (report["source"], report["target"], report["chunks"]) == ("chroma", "pgvector", chunks)
    assert report["records"] == chunks, "every chunk's ingest record came along"

    again = run_admin(env, "migrate-index", "--to", "pgvector", timeout=300)
    assert again.returncode == 1 and "--replace" in again.stderr, "never merged silently"

    # The records came along: an ingest of the same files on pgvector embeds nothing.
    rerun = _report(run_ingest(str(SAMPLES), "--json", env=env))
    assert (rerun["added"], rerun["deleted"], rerun["chunks_total"]) == (0, 0, chunks)

    served = live_server(env)
    via_pg = _chat(served, PORT_Q)
    assert "getting-started.md" in _sources(via_pg) and "7420" in via_pg["answer"]
    served.stop()

    back_dir = tmp_path / "back"
    back_env = {**env, "RAG_DATA_DIR": str(back_dir)}
    back = run_admin(back_env, "migrate-index", "--to", "chroma", "--json", timeout=300)
    assert back.returncode == 0, back.stderr
    assert json.loads(back.stdout)["chunks"] == chunks
    rerun_back = _report(
        run_ingest(str(SAMPLES), "--json", env={**rag_env, **{"RAG_DATA_DIR": str(back_dir)}})
    )
    assert (rerun_back["added"], rerun_back["deleted"], rerun_back["chunks_total"]) == (
        0,
        0,
        chunks,
    )
    original = _reader(data_dir=str(chroma_dir)).search(PORT_Q, 3)
    returned = _reader(data_dir=str(back_dir)).search(PORT_Q, 3)
    assert [(h.document.id, round(h.score, 4)) for h in returned] == [
        (h.document.id, round(h.score, 4)) for h in original
    ]
