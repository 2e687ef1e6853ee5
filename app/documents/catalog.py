"""What documents a caller's retrieval sees, read from the index and the ingest records.

The list is derived from the vector store itself (every chunk carries its ``source`` and
``owner``), filtered by the same owner tags retrieval uses (``visible_owners``), so it can never
list a document the caller could not be answered from, nor miss one they could. The ingest time
of a document is the latest write of its chunks in the ingest record store.
"""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from rag_chain import visible_owners
from rag_core.names import OWNER_KEY, SOURCE_KEY, record_namespace
from rag_core.settings import Settings
from rag_core.vectorstore import records_exist
from sqlalchemy import Engine, MetaData, Table, create_engine, func, select

#: Table of langchain-classic's SQLRecordManager (model ``UpsertionRecord``). It is reflected by
#: name rather than imported: importing langchain_classic.indexes costs the server 2-4 s. The name
#: and its columns (namespace, group_id, updated_at) are held by the langchain-classic <2 pin.
RECORDS_TABLE = "upsertion_record"
#: Chunks per ``get`` (Chroma's max batch is 5461).
GET_BATCH = 5000


class DocumentCatalog:
    """Lists and checks documents; read-only, blocking (call it from a worker thread)."""

    def __init__(self, settings: Settings, store: Any) -> None:
        """``store()`` returns the opened vector store, or None while there is no index."""
        self.settings = settings
        self._store = store
        self._records: tuple[Engine, Table] | None = None
        self._lock = threading.Lock()

    def visible(self, owner: str) -> list[dict[str, Any]]:
        """The documents ``owner`` is answered from: their own and the shared ones."""
        store = self._store()
        if store is None:
            return []
        tags = sorted(visible_owners(owner))
        chunks: Counter[tuple[str, str]] = Counter()
        offset = 0
        while True:
            batch = store.get(
                where={OWNER_KEY: {"$in": tags}},
                include=["metadatas"],
                limit=GET_BATCH,
                offset=offset,
            )
            metadatas = batch.get("metadatas") or []
            for meta in metadatas:
                chunks[(str(meta.get(OWNER_KEY)), str(meta.get(SOURCE_KEY)))] += 1
            if len(metadatas) < GET_BATCH:
                break
            offset += GET_BATCH
        ingested = {tag: self._ingested_at(tag) for tag in {o for o, _ in chunks}}
        return [
            {
                "source": source,
                "chunks": count,
                "owner": tag,
                "ingested_at": ingested[tag].get(source),
                "deletable": tag == owner,
            }
            for (tag, source), count in sorted(chunks.items(), key=lambda item: item[0][::-1])
        ]

    def owns(self, owner: str, source: str) -> bool:
        """Whether ``owner`` has chunks of ``source`` of their own (shared ones are not theirs)."""
        store = self._store()
        if store is None:
            return False
        found = store.get(
            where={"$and": [{SOURCE_KEY: source}, {OWNER_KEY: owner}]}, include=[], limit=1
        )
        return bool(found.get("ids"))

    def _ingested_at(self, tag: str) -> dict[str, str]:
        """Latest write time of each source of one owner tag, as ISO 8601 UTC."""
        records = self._open_records()
        if records is None:
            return {}
        engine, table = records
        namespace = record_namespace(self.settings, self.settings.collection, tag)
        query = (
            select(table.c.group_id, func.max(table.c.updated_at))
            .where(table.c.namespace == namespace)
            .group_by(table.c.group_id)
        )
        with engine.connect() as conn:
            rows = conn.execute(query).all()
        return {str(group): _iso(stamp) for group, stamp in rows if group is not None}

    def _open_records(self) -> tuple[Engine, Table] | None:
        with self._lock:
            if self._records is None:
                if not records_exist(self.settings):
                    return None  # never create the record store: only ingest does
                engine = create_engine(self.settings.records_db_url)
                table = Table(RECORDS_TABLE, MetaData(), autoload_with=engine)
                self._records = (engine, table)
            return self._records

    def close(self) -> None:
        """Release the record store's connections."""
        if self._records is not None:
            self._records[0].dispose()
            self._records = None


def _iso(stamp: Any) -> str:
    return (
        datetime.fromtimestamp(float(stamp), UTC)
        .isoformat(timespec="seconds")
        .replace("+00:00", "Z")
    )
