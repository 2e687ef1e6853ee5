"""Copy a collection between Chroma and pgvector without embedding anything again.

Why a copy and not a re-ingest: re-embedding a large corpus takes hours on a CPU, and the source
files may no longer be at hand. Chunks keep their ids (the content hashes the indexing API gave
them), texts, metadata and stored vectors; the ingest records are copied too, under the target's
namespaces, so the next ``rag-ingest`` on the target skips every unchanged file instead of
embedding it again. The copy ends by comparing chunk and record counts of both sides.

Run it while nothing ingests into the source: chunks are read in pages.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import asdict, dataclass
from typing import Any, Literal

from langchain_core.embeddings import Embeddings
from rag_core.names import record_namespace
from rag_core.settings import Settings
from rag_core.vectorstore import (
    COLLECTION_METADATA,
    collection_exists,
    count_chunks,
    make_chroma_client,
    make_vectorstore,
    records_exist,
)
from sqlalchemy import Engine, MetaData, Table, create_engine, delete, func, select

Backend = Literal["chroma", "pgvector"]
#: Chunks per page read and written (Chroma's max batch is 5461).
BATCH = 1000
#: Table of langchain-classic's SQLRecordManager (held by the langchain-classic <2 pin).
RECORDS_TABLE = "upsertion_record"


class MigrationError(RuntimeError):
    """The copy cannot start or did not verify; the message says what to do."""


class NoEmbeddings(Embeddings):
    """Stands in for the embedding model: a migration that tried to embed would be a bug."""

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        raise MigrationError("the index migration must copy vectors, never embed")

    def embed_query(self, text: str) -> list[float]:
        raise MigrationError("the index migration must copy vectors, never embed")


@dataclass
class MigrationReport:
    """What was copied, and the counts the verification compared (source == target)."""

    source: str
    target: str
    collection: str
    chunks: int
    records: int
    seconds: float

    def as_json(self) -> dict[str, Any]:
        """The summary ``rag-admin migrate-index --json`` prints."""
        return asdict(self)


def migrate_index(
    settings: Settings, to: Backend, *, replace: bool = False, batch: int = BATCH
) -> MigrationReport:
    """Copy ``settings.collection`` from the other backend into ``to``, then verify the counts."""
    started = time.perf_counter()
    if not settings.pgvector_url:
        raise MigrationError("set RAG_PGVECTOR_URL: one side of the copy is pgvector")
    source = settings.model_copy(
        update={"vectorstore": "chroma" if to == "pgvector" else "pgvector"}
    )
    target = settings.model_copy(update={"vectorstore": to})
    name = settings.collection
    if not collection_exists(source, name):
        raise MigrationError(f"the {source.vectorstore} store has no collection {name!r} to copy")
    _clear_or_refuse(target, replace)

    reader = make_vectorstore(source, NoEmbeddings(), create=False)
    write = _chunk_writer(target)
    offset = 0
    while True:
        page = reader.get(  # type: ignore[attr-defined]
            include=["documents", "metadatas", "embeddings"], limit=batch, offset=offset
        )
        if not page["ids"]:
            break
        write(list(page["ids"]), page["documents"], page["metadatas"], page["embeddings"])
        offset += len(page["ids"])
    records = _copy_records(source, target)

    chunks_source, chunks_target = count_chunks(source, name), count_chunks(target, name)
    records_target = _count_records(target)
    if chunks_source != chunks_target or records != records_target:
        raise MigrationError(
            f"verification failed: {chunks_source} chunks in {source.vectorstore}, "
            f"{chunks_target} in {to}; {records} records copied, {records_target} in {to}"
        )
    return MigrationReport(
        source.vectorstore, to, name, chunks_target, records_target, time.perf_counter() - started
    )


def _clear_or_refuse(target: Settings, replace: bool) -> None:
    """An existing target collection is replaced only when asked: never merge two indexes."""
    name = target.collection
    held = count_chunks(target, name) if collection_exists(target, name) else 0
    records = _count_records(target)
    if not held and not records:
        return
    if not replace:
        raise MigrationError(
            f"the {target.vectorstore} collection {name!r} already holds {held} chunks and "
            f"{records} ingest records: pass --replace to overwrite it"
        )
    if target.vectorstore == "pgvector":
        make_vectorstore(target, NoEmbeddings(), create=True).delete_collection()  # type: ignore[attr-defined]
    elif held:
        make_chroma_client(target).delete_collection(name)
    engine, table = _records_table(target)
    with engine.begin() as conn:
        conn.execute(
            delete(table).where(table.c.namespace.startswith(_prefix(target), autoescape=True))
        )


def _chunk_writer(target: Settings) -> Any:
    """A function writing (ids, texts, metadatas, vectors) to the target, creating it first."""
    if target.vectorstore == "pgvector":
        store = make_vectorstore(target, NoEmbeddings(), create=True)

        def write_pg(ids: list[str], texts: list[str], metas: list[dict], vectors: list) -> None:
            store.add_embeddings(  # type: ignore[attr-defined]
                texts, [list(map(float, v)) for v in vectors], [dict(m or {}) for m in metas], ids
            )

        return write_pg
    collection = make_chroma_client(target).get_or_create_collection(
        target.collection, metadata=COLLECTION_METADATA, embedding_function=None
    )

    def write_chroma(ids: list[str], texts: list[str], metas: list[dict], vectors: list) -> None:
        collection.upsert(
            ids=ids,
            documents=texts,
            metadatas=[dict(m or {}) for m in metas],
            embeddings=[list(map(float, v)) for v in vectors],
        )

    return write_chroma


def _prefix(settings: Settings) -> str:
    """Start of every record namespace of this store and collection (any owner)."""
    return record_namespace(settings, settings.collection, None).rsplit("|", 1)[0] + "|"


def _records_table(settings: Settings) -> tuple[Engine, Table]:
    """The record table of ``settings``' store, created like rag-ingest creates it."""
    from langchain_classic.indexes import SQLRecordManager

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    SQLRecordManager(_prefix(settings), db_url=settings.records_db_url).create_schema()
    engine = create_engine(settings.records_db_url)
    return engine, Table(RECORDS_TABLE, MetaData(), autoload_with=engine)


def _count_records(settings: Settings) -> int:
    if not records_exist(settings):
        return 0
    engine, table = _records_table(settings)
    with engine.connect() as conn:
        query = select(func.count()).where(
            table.c.namespace.startswith(_prefix(settings), autoescape=True)
        )
        return int(conn.execute(query).scalar_one())


def _copy_records(source: Settings, target: Settings) -> int:
    """Copy the collection's ingest records, each under the target's namespace for its owner."""
    if not records_exist(source):
        return 0
    old, new = _prefix(source), _prefix(target)
    source_engine, source_table = _records_table(source)
    target_engine, target_table = _records_table(target)
    with source_engine.connect() as conn:
        rows = conn.execute(
            select(
                source_table.c.key,
                source_table.c.namespace,
                source_table.c.group_id,
                source_table.c.updated_at,
            ).where(source_table.c.namespace.startswith(old, autoescape=True))
        ).all()
    values = [
        {
            "uuid": str(uuid.uuid4()),
            "key": key,
            "namespace": new + namespace[len(old) :],
            "group_id": group_id,
            "updated_at": updated_at,
        }
        for key, namespace, group_id, updated_at in rows
    ]
    with target_engine.begin() as conn:
        for start in range(0, len(values), BATCH):
            conn.execute(target_table.insert(), values[start : start + BATCH])
    return len(values)
