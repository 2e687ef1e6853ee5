"""RAG_VECTORSTORE=pgvector: settings, names and error classification (no database needed).

The store itself is tested on a real pgvector in tests/integration/test_pgvector.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy
from rag_core.index_errors import is_index_failure
from rag_core.names import record_namespace
from rag_core.settings import SettingsError, load_settings
from rag_core.vectorstore import store_signature_blind, vectorstore_label

from ingest.migrate_index import MigrationError, NoEmbeddings, migrate_index

PG = "postgresql+psycopg://rag@db.internal:5432/rag"


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in list(__import__("os").environ):
        if name.startswith("RAG_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)  # no stray .env from the repo


@pytest.mark.parametrize(
    "written",
    [
        "postgresql://rag@db.internal:5432/rag",
        "postgres://rag@db.internal:5432/rag",
        "postgresql+asyncpg://rag@db.internal:5432/rag",
        "postgresql+psycopg2://rag@db.internal:5432/rag",
        PG,
    ],
)
def test_any_postgresql_url_is_mapped_to_psycopg(written: str) -> None:
    settings = load_settings(vectorstore="pgvector", pgvector_url=written)
    assert settings.pgvector_url == PG
    assert settings.records_db_url == PG, "ingest records live beside the chunks"


def test_a_unix_socket_url_keeps_its_host_parameter() -> None:
    settings = load_settings(
        vectorstore="pgvector", pgvector_url="postgresql://postgres:@/t1?host=/tmp/pg"
    )
    assert settings.pgvector_url == "postgresql+psycopg://postgres:@/t1?host=/tmp/pg"


@pytest.mark.parametrize("url", ["mysql://rag@db/rag", "sqlite:///x.db", "db.internal:5432"])
def test_other_databases_are_refused_naming_the_variable(url: str) -> None:
    with pytest.raises(SettingsError, match="RAG_PGVECTOR_URL"):
        load_settings(vectorstore="pgvector", pgvector_url=url)


def test_pgvector_needs_its_url() -> None:
    with pytest.raises(SettingsError, match="RAG_PGVECTOR_URL"):
        load_settings(vectorstore="pgvector")


def test_chroma_stays_the_default_and_keeps_its_records_file() -> None:
    settings = load_settings(pgvector_url="postgresql://rag@db/rag")
    assert settings.vectorstore == "chroma"
    assert settings.records_db_url.endswith("/data/ingest-records.sqlite")
    assert vectorstore_label(settings) == "chroma-embedded"


def test_record_namespaces_differ_per_store_so_prune_stays_in_scope() -> None:
    chroma = load_settings()
    pg = load_settings(vectorstore="pgvector", pgvector_url=PG)
    assert record_namespace(chroma, "docs", "alice") == "embedded|docs|alice"
    assert record_namespace(pg, "docs", "alice") == "pgvector|docs|alice"
    assert record_namespace(pg, "docs", None) == "pgvector|docs|_shared"


def test_labels_and_signatures_per_backend() -> None:
    pg = load_settings(vectorstore="pgvector", pgvector_url=PG, chroma_url="http://127.0.0.1:1")
    assert vectorstore_label(pg) == "pgvector"
    assert not store_signature_blind(pg), "pgvector tells its readers when it was written"
    server = load_settings(chroma_url="http://127.0.0.1:1")
    assert vectorstore_label(server) == "chroma-server" and store_signature_blind(server)


def test_an_unreachable_pgvector_is_an_index_failure(tmp_path: Path) -> None:
    engine = sqlalchemy.create_engine(f"postgresql+psycopg://x@/db?host={tmp_path}")
    with pytest.raises(sqlalchemy.exc.OperationalError) as caught:
        engine.connect()
    assert is_index_failure(caught.value), "503 index_unavailable, not a model failure"
    assert not is_index_failure(RuntimeError("the model crashed"))


def test_the_migration_never_embeds() -> None:
    with pytest.raises(MigrationError, match="never embed"):
        NoEmbeddings().embed_documents(["a chunk"])
    with pytest.raises(MigrationError, match="never embed"):
        NoEmbeddings().embed_query("a question")


def test_the_migration_needs_the_pgvector_url() -> None:
    with pytest.raises(MigrationError, match="RAG_PGVECTOR_URL"):
        migrate_index(load_settings(), "pgvector")
