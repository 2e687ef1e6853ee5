"""Incremental indexing of files into the vector store (Chroma or pgvector) through LangChain's
indexing API.

Why it is built this way:
- A persistent SQL record manager (under RAG_DATA_DIR; in PostgreSQL beside pgvector) remembers the hash of every chunk written,
  so an unchanged file embeds nothing and a changed file has exactly its old chunks replaced.
- Each file's chunks always go to ``index()`` in one batch, never straddling two, because
  incremental cleanup deletes a source's chunks that are missing from the *current batch* (a file
  split across batches would be partly deleted and re-added on every run).
- Chunk ids are content hashes: a run killed half-way leaves chunks that the next run overwrites
  under the same ids, so a re-run repairs the index without duplicates.
- The embedding model is loaded only when something must be embedded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.indexing import index

# Private: the content-hash id index() gives a chunk. No public function computes it, and ids that
# differ from index()'s by one byte would re-embed every chunk; held by langchain-core <2.
from langchain_core.indexing.api import _get_document_with_hash
from langchain_core.vectorstores import VectorStore
from rag_core.embeddings import LazyEmbeddings
from rag_core.names import OWNER_KEY, SOURCE_KEY, owner_tag, record_namespace
from rag_core.settings import Settings
from rag_core.vectorstore import (
    collection_exists,
    count_chunks,
    make_vectorstore,
    records_exist,
)
from tqdm import tqdm

from ingest.chunking import chunk_segments
from ingest.discovery import SourceFile, discover
from ingest.guards import FileLimits, check_file
from ingest.loaders import LoadError, load_segments

log = logging.getLogger("ingest")

KEY_ENCODER: Literal["sha256"] = "sha256"
#: Chunks embedded per index() call; whole files are packed together up to this size.
BATCH_CHUNKS = 256


@dataclass
class IndexReport:
    """What a run did (or, with dry_run, would do); chunk counts except ``files``."""

    files: int = 0
    added: int = 0
    updated: int = 0
    skipped: int = 0
    deleted: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    chunks_total: int = 0
    unsupported: list[str] = field(default_factory=list)
    plan: list[str] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    def as_json(self) -> dict[str, Any]:
        """The machine-readable summary printed by ``rag-ingest --json``."""
        return {
            "files": self.files,
            "added": self.added,
            "updated": self.updated,
            "skipped": self.skipped,
            "deleted": self.deleted,
            "failed": self.failed,
            "chunks_total": self.chunks_total,
        }

    def summary(self) -> str:
        """One human-readable line."""
        verb = "would be" if self.dry_run else ""
        return (
            f"{self.files} files: {self.added} chunks added, {self.updated} updated, "
            f"{self.skipped} unchanged, {self.deleted} deleted {verb}".rstrip()
            + f"; {len(self.failed)} failed; collection holds {self.chunks_total} chunks"
            + f" ({self.seconds:.1f} s)"
        )


class Ingestor:
    """Writes files into one collection for one owner; reusable across runs in a process."""

    def __init__(
        self,
        settings: Settings,
        *,
        user: str | None = None,
        embeddings: Embeddings | None = None,
        vectorstore: VectorStore | None = None,
        record_manager: Any | None = None,
    ) -> None:
        self.settings = settings
        self.user = user
        self.embeddings = embeddings or LazyEmbeddings(settings)
        self._vectorstore = vectorstore
        self._record_manager = record_manager
        self.limits = FileLimits.from_settings(settings)

    # --- stores, opened lazily so --dry-run never creates anything -------------------------
    def vectorstore(self, create: bool) -> VectorStore | None:
        """The destination store; None when it does not exist and must not be created."""
        if self._vectorstore is None:
            if not create and not collection_exists(self.settings):
                return None
            self._vectorstore = make_vectorstore(self.settings, self.embeddings, create=True)
        return self._vectorstore

    def record_manager(self, create: bool) -> Any:
        """The persistent record manager (an empty in-memory one for a dry run on a new store)."""
        if self._record_manager is None:
            from langchain_classic.indexes import SQLRecordManager
            from langchain_core.indexing import InMemoryRecordManager

            namespace = record_namespace(self.settings, self.settings.collection, self.user)
            if not create and not records_exist(self.settings):
                return InMemoryRecordManager(namespace)
            self.settings.data_dir.mkdir(parents=True, exist_ok=True)
            manager = SQLRecordManager(namespace, db_url=self.settings.records_db_url)
            manager.create_schema()
            self._record_manager = manager
        return self._record_manager

    # --- the run --------------------------------------------------------------------------
    def run(
        self,
        paths: Iterable[Path],
        *,
        prune: bool = False,
        dry_run: bool = False,
        progress: bool = True,
    ) -> IndexReport:
        """Ingest the given files/folders; with prune, drop chunks of files no longer present."""
        started = time.perf_counter()
        report = IndexReport(dry_run=dry_run)
        files, report.failed, report.unsupported = discover(list(paths))
        report.files = len(files)
        store = self.vectorstore(create=not dry_run)
        records = self.record_manager(create=not dry_run)
        if store is not None and not dry_run:
            self._forget_records_of_lost_store(store, records)

        seen_sources: set[str] = set()
        bar = tqdm(total=len(files), desc="ingest", unit="file", disable=not progress, leave=False)
        try:
            for batch in self._batches(files, report, seen_sources, bar):
                # Files count as done once their chunks are embedded and written, not when read:
                # embedding is nearly all of the time, and a bar at 100 % before it would lie.
                loaded = len(batch)
                chunks = sum(len(docs) for docs in batch.values())
                step = "comparing" if dry_run else "embedding"  # a dry run embeds nothing
                bar.set_postfix_str(f"{step} {chunks} chunks", refresh=True)
                if dry_run:
                    self._plan(batch, records, report)
                else:
                    assert store is not None
                    self._write(batch, store, records, report)
                bar.update(loaded)
        finally:
            bar.close()
        if prune:
            self._prune(store, records, seen_sources, report, dry_run)
        report.chunks_total = count_chunks(self.settings) if store is not None else 0
        report.seconds = time.perf_counter() - started
        return report

    def _batches(
        self,
        files: list[SourceFile],
        report: IndexReport,
        seen_sources: set[str],
        bar: tqdm,
    ) -> Iterator[dict[str, list[Document]]]:
        """Load and chunk files, yielding {source: chunks} groups of about BATCH_CHUNKS."""
        extra = {OWNER_KEY: owner_tag(self.user)}
        group: dict[str, list[Document]] = {}
        size = 0
        for file in files:
            bar.set_postfix_str(f"reading {file.source[-40:]}", refresh=False)
            try:
                check_file(file.path, self.limits)  # before a loader inflates a hostile file
                segments = load_segments(file.path)
                docs = chunk_segments(
                    segments,
                    source=file.source,
                    chunk_size=self.settings.chunk_size,
                    chunk_overlap=self.settings.chunk_overlap,
                    extra_metadata=extra,
                )
            except LoadError as exc:
                report.failed.append({"path": str(file.path), "error": str(exc)})
                log.warning("skipped %s: %s", file.path, exc)
                seen_sources.add(file.source)  # keep its old chunks: do not prune a broken file
                bar.update(1)
                continue
            seen_sources.add(file.source)
            group[file.source] = docs
            size += len(docs)
            if size >= BATCH_CHUNKS:
                yield group
                group, size = {}, 0
        if group:
            yield group

    def _write(
        self,
        batch: dict[str, list[Document]],
        store: VectorStore,
        records: Any,
        report: IndexReport,
    ) -> None:
        # Files whose chunks are exactly the recorded ones need nothing: leave them out of index(),
        # which would otherwise rewrite every record's timestamp (most of an unchanged re-run).
        stored = _keys_by_source(records, list(batch))
        for source, docs in list(batch.items()):
            if docs and stored.get(source) == {_chunk_id(d) for d in docs}:
                report.skipped += len(docs)
                del batch[source]
        if not batch:
            return
        known = {s for s in batch if stored.get(s)}
        new_ids = self._new_ids(batch, records)
        docs = [doc for docs in batch.values() for doc in docs]
        result = index(
            docs,
            records,
            store,
            cleanup="incremental",
            source_id_key=SOURCE_KEY,
            batch_size=max(len(docs), 1),
            key_encoder=KEY_ENCODER,
        )
        updated = sum(len(ids) for source, ids in new_ids.items() if source in known)
        report.updated += min(updated, result["num_added"])
        report.added += result["num_added"] - min(updated, result["num_added"])
        report.skipped += result["num_skipped"]
        report.deleted += result["num_deleted"]
        for source in (s for s, d in batch.items() if not d and s in known):
            # A file that now yields no text: index() has nothing to clean up with, do it here.
            report.deleted += self._delete_source(store, records, source)

    def _new_ids(self, batch: dict[str, list[Document]], records: Any) -> dict[str, list[str]]:
        """Ids of chunks not in the record store yet, per source."""
        result: dict[str, list[str]] = {}
        for source, docs in batch.items():
            ids = [_chunk_id(d) for d in docs]
            exists = records.exists(ids) if ids else []
            result[source] = [i for i, e in zip(ids, exists, strict=True) if not e]
        return result

    def _plan(self, batch: dict[str, list[Document]], records: Any, report: IndexReport) -> None:
        """Dry run: compare chunk hashes with the record store and describe what would change."""
        for source, new in self._new_ids(batch, records).items():
            hashes = {
                str(_get_document_with_hash(d, key_encoder=KEY_ENCODER).id) for d in batch[source]
            }
            old = set(records.list_keys(group_ids=[source]))
            removed = len(old - hashes)
            report.skipped += len(hashes) - len(new)
            report.deleted += removed
            if not old and new:
                report.added += len(new)
                report.plan.append(f"add      {source} ({len(new)} chunks)")
            elif new or removed:
                report.updated += len(new)
                report.plan.append(f"replace  {source} ({len(new)} new, {removed} removed chunks)")

    def delete_source(self, source: str) -> int:
        """Remove one file of this owner from the index: its chunks and its records.

        Chunks are found both through the records and by their metadata (source and owner), so a
        file whose records were lost is still removed entirely; other owners' files of the same
        name are never touched. Returns the number of chunks removed.
        """
        store = self.vectorstore(create=False)
        records = self.record_manager(create=False)
        removed = self._delete_source(store, records, source)
        if store is not None:
            where = {"$and": [{SOURCE_KEY: source}, {OWNER_KEY: owner_tag(self.user)}]}
            stray = store.get(where=where, include=[])["ids"]  # type: ignore[attr-defined]
            if stray:
                store.delete(stray)
                removed += len(stray)
        return removed

    def _delete_source(self, store: VectorStore | None, records: Any, source: str) -> int:
        keys = records.list_keys(group_ids=[source])
        if keys and store is not None:
            store.delete(keys)
            records.delete_keys(keys)
        return len(keys)

    def _prune(
        self,
        store: VectorStore | None,
        records: Any,
        seen_sources: set[str],
        report: IndexReport,
        dry_run: bool,
    ) -> None:
        """Remove chunks of files that are no longer under the paths given (this owner only)."""
        for source in sorted(_group_ids(records) - seen_sources):
            if dry_run:
                count = len(records.list_keys(group_ids=[source]))
                report.plan.append(f"delete   {source} ({count} chunks)")
                report.deleted += count
            else:
                report.deleted += self._delete_source(store, records, source)
                log.info("pruned %s", source)

    def _forget_records_of_lost_store(self, store: VectorStore, records: Any) -> None:
        """If the collection was emptied or recreated behind our back, stop trusting the records."""
        if count_chunks(self.settings) == 0:
            stale = records.list_keys()
            if stale:
                log.warning(
                    "collection is empty but %d chunk records exist: re-indexing", len(stale)
                )
                records.delete_keys(stale)


def _chunk_id(doc: Document) -> str:
    """The content-hash id the indexing API gives a chunk (and records it under)."""
    return str(_get_document_with_hash(doc, key_encoder=KEY_ENCODER).id)


def _keys_by_source(records: Any, sources: list[str]) -> dict[str, set[str]]:
    """Recorded chunk ids of each source (the record manager's public ``list_keys``)."""
    return {source: set(records.list_keys(group_ids=[source])) for source in sources}


def _group_ids(records: Any) -> set[str]:
    """All sources the record store knows in its namespace.

    The record managers have no public call that lists group ids (``list_keys`` returns keys), and
    ``--prune`` needs them: this reads SQLRecordManager's table through its private session and
    model (``langchain_classic.indexes._sql_record_manager``), held by langchain-classic <2.
    """
    if hasattr(records, "_make_session"):
        from langchain_classic.indexes._sql_record_manager import UpsertionRecord

        with records._make_session() as session:
            rows = (
                session.query(UpsertionRecord.group_id)
                .filter(UpsertionRecord.namespace == records.namespace)
                .distinct()
                .all()
            )
        return {row[0] for row in rows if row[0] is not None}
    return {rec["group_id"] for rec in getattr(records, "records", {}).values() if rec["group_id"]}
