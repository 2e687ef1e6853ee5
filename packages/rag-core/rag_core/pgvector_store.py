"""pgvector through langchain-postgres, made to honour the same contract as our Chroma store.

Why a subclass of ``PGVector`` rather than the class as is:
- the readers (hybrid retrieval, the documents catalog, ``--prune``'s stray check, the index
  migration) talk to the store through Chroma's ``get(ids, where, limit, offset, include)``;
  :meth:`RagPGVector.get` answers in that shape from the same table, so BM25 is fed from the
  PostgreSQL rows exactly as it is from Chroma's;
- ``langchain_pg_embedding.id`` is one primary key for every collection of the database, and
  ``PGVector.delete(ids)`` deletes ids in *all* of them: ours deletes within its collection only;
- the HNSW index (cosine) is created once, on the first write, from the vectors' dimension: an
  index needs a dimensioned column, and the dimension is only known once something is embedded.

Distances: with ``DistanceStrategy.COSINE`` pgvector returns the cosine distance ``1 - cos``,
Chroma's ``hnsw:space=cosine`` the same, so one ``1 - d`` relevance serves both and
``RAG_SCORE_THRESHOLD`` keeps its meaning.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import sqlalchemy
from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_postgres import PGVector
from langchain_postgres.vectorstores import DistanceStrategy
from sqlalchemy import Engine, create_engine, text

from rag_core.settings import Settings
from rag_core.vectorstore import IndexConflictError

#: Tables langchain-postgres creates (names fixed by the library, held by the <0.1 pin).
EMBEDDING_TABLE = "langchain_pg_embedding"
COLLECTION_TABLE = "langchain_pg_collection"
HNSW_INDEX = "ix_langchain_pg_embedding_hnsw_cosine"
#: Arbitrary key of the advisory lock that serialises HNSW index creation between writers.
_INDEX_LOCK = 0x7261675F686E7377
#: Per session: search more HNSW candidates, and keep scanning (in distance order) while a
#: collection/owner filter discards them, so a filtered top-k is still a full, exact-order top-k.
_SESSION_OPTIONS = "-c hnsw.ef_search=100 -c hnsw.iterative_scan=strict_order"

_engines: dict[str, Engine] = {}
_engines_lock = threading.Lock()


def pg_engine(settings: Settings) -> Engine:
    """One pooled engine per database URL and process (shared by stores, counts, signatures)."""
    url = settings.pgvector_url
    if not url:
        raise ValueError("RAG_PGVECTOR_URL is not set")
    with _engines_lock:
        engine = _engines.get(url)
        if engine is None:
            engine = create_engine(
                url,
                pool_pre_ping=True,  # a restarted database must not fail the next question
                connect_args={"options": _SESSION_OPTIONS},
            )
            _engines[url] = engine
    return engine


class RagPGVector(PGVector):
    """PGVector with Chroma's ``get``, collection-scoped deletes and an HNSW index."""

    def get(
        self,
        ids: Sequence[str] | None = None,
        where: dict[str, Any] | None = None,
        limit: int | None = None,
        offset: int | None = None,
        include: Sequence[str] = ("metadatas", "documents"),
    ) -> dict[str, Any]:
        """Chunks of this collection by ids and/or metadata filter, in Chroma's result shape.

        ``where`` uses the filter syntax both stores share (``{"owner": {"$in": [...]}}``,
        ``{"$and": [...]}``); rows come in id order so ``limit``/``offset`` pages are stable.
        """
        table = self.EmbeddingStore
        columns: list[Any] = [table.id]
        wanted = [name for name in ("documents", "metadatas", "embeddings") if name in include]
        columns += [
            {
                "documents": table.document,
                "metadatas": table.cmetadata,
                "embeddings": table.embedding,
            }[name]
            for name in wanted
        ]
        query = sqlalchemy.select(*columns).where(table.collection_id == self._collection_uuid())
        if ids is not None:
            query = query.where(table.id.in_(list(ids)))
        if where:
            query = query.where(self._create_filter_clause(where))
        query = query.order_by(table.id).limit(limit).offset(offset)
        with self._make_sync_session() as session:
            rows = session.execute(query).all()
        result: dict[str, Any] = {"ids": [row[0] for row in rows]}
        for position, name in enumerate(wanted, start=1):
            values = [row[position] for row in rows]
            if name == "embeddings":
                values = [[float(x) for x in v] if v is not None else None for v in values]
            elif name == "metadatas":
                values = [dict(v or {}) for v in values]
            result[name] = values
        return result

    def _collection_uuid(self) -> Any:
        """The collection's key as a subquery: a collection dropped and made again is followed."""
        collections = self.CollectionStore
        return (
            sqlalchemy.select(collections.uuid)
            .where(collections.name == self.collection_name)
            .scalar_subquery()
        )

    def similarity_search_by_vector_with_relevance_scores(
        self, embedding: list[float], k: int = 4, filter: dict[str, Any] | None = None
    ) -> list[tuple[Document, float]]:
        """(chunk, cosine distance) pairs, best first: the contract of Chroma's method of this
        name (despite it, distances), which retrieval searches with."""
        return self.similarity_search_with_score_by_vector(embedding, k=k, filter=filter)

    def delete(
        self, ids: list[str] | None = None, collection_only: bool = True, **kwargs: Any
    ) -> None:
        """Delete chunks of *this* collection (the library's default reaches every collection)."""
        super().delete(ids, collection_only=collection_only, **kwargs)

    def add_embeddings(
        self,
        texts: Sequence[str],
        embeddings: list[list[float]],
        metadatas: list[dict] | None = None,
        ids: list[str] | None = None,
        **kwargs: Any,
    ) -> list[str]:
        """Write chunks with their vectors (ingest embeds first; migration brings its own)."""
        if not texts:
            return []
        if ids:
            self._refuse_ids_of_other_collections(ids)
        written = super().add_embeddings(texts, embeddings, metadatas, ids, **kwargs)
        ensure_hnsw_index(self._engine_or_fail(), len(embeddings[0]))
        return written

    def _refuse_ids_of_other_collections(self, ids: list[str]) -> None:
        """Fail instead of letting the library's upsert leave a chunk in another collection.

        ``id`` is one key for the whole table, and on conflict the library updates the row but
        not its collection: the chunk would be recorded as written here and never found here.
        """
        table = self.EmbeddingStore
        query = (
            sqlalchemy.select(table.id)
            .where(table.id.in_(ids), table.collection_id != self._collection_uuid())
            .limit(1)
        )
        with self._make_sync_session() as session:
            taken = session.execute(query).scalar()
        if taken is not None:
            raise IndexConflictError(
                f"chunk {taken} already belongs to another collection of this database: the "
                "same files with the same owner cannot be in two collections of one database; "
                "use another database (or schema) for this collection"
            )

    def _engine_or_fail(self) -> Engine:
        assert self._engine is not None, "RagPGVector is used in sync mode only"
        return self._engine


_indexed: set[str] = set()


def ensure_hnsw_index(engine: Engine, dimension: int) -> None:
    """Give the embedding column its dimension and an HNSW cosine index, once per database.

    langchain-postgres creates the column as a plain ``vector`` unless told the dimension up
    front, and pgvector cannot index that; setting the type to ``vector(dimension)`` afterwards
    is accepted as long as every stored vector has that dimension (a mismatch fails loudly here
    rather than at search time).
    """
    key = engine.url.render_as_string(hide_password=False)
    if key in _indexed:
        return
    with engine.begin() as conn:
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _INDEX_LOCK})
        column_type = conn.execute(
            text(
                "SELECT format_type(atttypid, atttypmod) FROM pg_attribute "
                "WHERE attrelid = CAST(:table AS regclass) AND attname = 'embedding'"
            ),
            {"table": EMBEDDING_TABLE},
        ).scalar_one()
        if column_type == "vector":
            conn.execute(
                text(
                    f"ALTER TABLE {EMBEDDING_TABLE} ALTER COLUMN embedding "
                    f"TYPE vector({int(dimension)})"
                )
            )
        conn.execute(
            text(
                f"CREATE INDEX IF NOT EXISTS {HNSW_INDEX} ON {EMBEDDING_TABLE} "
                "USING hnsw (embedding vector_cosine_ops)"
            )
        )
    _indexed.add(key)


def pg_collection_exists(settings: Settings, name: str) -> bool:
    """Whether an ingest run created the collection (never creates anything)."""
    engine = pg_engine(settings)
    with engine.connect() as conn:
        if conn.execute(text("SELECT to_regclass(:t)"), {"t": COLLECTION_TABLE}).scalar() is None:
            return False
        found = conn.execute(
            text(f"SELECT 1 FROM {COLLECTION_TABLE} WHERE name = :name"), {"name": name}
        ).first()
    return found is not None


def _collection_rows(conn: Any, name: str, select_list: str) -> Any:
    return conn.execute(
        text(
            f"SELECT {select_list} FROM {EMBEDDING_TABLE} e JOIN {COLLECTION_TABLE} c "
            "ON e.collection_id = c.uuid WHERE c.name = :name"
        ),
        {"name": name},
    ).one()


def pg_count(settings: Settings, name: str) -> int:
    """Chunks the collection holds."""
    with pg_engine(settings).connect() as conn:
        return int(_collection_rows(conn, name, "count(*)")[0])


def pg_signature(settings: Settings, name: str) -> tuple[int, ...]:
    """(rows, checksum of their ids): changes whenever a writer adds or deletes chunks.

    The id checksum is order-free, so it costs one pass over the id column (milliseconds at 10k
    chunks), and the reader asks at most once a second.
    """
    with pg_engine(settings).connect() as conn:
        count, checksum = _collection_rows(
            conn, name, "count(*), coalesce(sum(hashtext(e.id)::bigint), 0)"
        )
    return (int(count), int(checksum))


def make_pgvector(
    settings: Settings, embeddings: Embeddings, *, collection: str, create: bool
) -> RagPGVector:
    """Open (or, for a writer, create) the collection in PostgreSQL with our embeddings."""
    return RagPGVector(
        embeddings,
        connection=pg_engine(settings),
        collection_name=collection,
        distance_strategy=DistanceStrategy.COSINE,
        use_jsonb=True,
        create_extension=create,  # readers need no rights to create extensions
    )


def pg_records_exist(settings: Settings) -> bool:
    """Whether ingest has created its record table in the database yet."""
    with pg_engine(settings).connect() as conn:
        return conn.execute(text("SELECT to_regclass('upsertion_record')")).scalar() is not None
