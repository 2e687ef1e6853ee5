"""Vector store factory: embedded Chroma on disk by default, a Chroma server when RAG_CHROMA_URL is
set, PostgreSQL + pgvector when RAG_VECTORSTORE=pgvector (:mod:`rag_core.pgvector_store`).

Ingest creates the collection; serving only opens it (``create=False``) and treats a missing
collection as "no index yet" rather than creating an empty one behind the user's back.
"""

from __future__ import annotations

import threading
from typing import Any
from urllib.parse import urlparse

from langchain_chroma import Chroma
from langchain_core.embeddings import Embeddings
from langchain_core.vectorstores import VectorStore

from rag_core.settings import Settings

# Cosine space makes relevance scores land in [0, 1], so a score threshold means something.
COLLECTION_METADATA = {"hnsw:space": "cosine"}

_clients: dict[str, Any] = {}
_clients_lock = threading.Lock()


class IndexMissingError(RuntimeError):
    """The collection does not exist yet: run rag-ingest first."""


class IndexConflictError(RuntimeError):
    """A write the store cannot take as asked (the message says what to do instead)."""


def make_chroma_client(settings: Settings) -> Any:
    """One chromadb client per store location and process (clients are heavy and thread-safe)."""
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    key = settings.chroma_url or str(settings.chroma_dir.resolve())
    with _clients_lock:
        client = _clients.get(key)
        if client is None:
            if settings.chroma_url:
                url = urlparse(settings.chroma_url)
                client = chromadb.HttpClient(
                    host=url.hostname or "127.0.0.1",
                    port=url.port or (443 if url.scheme == "https" else 8000),
                    ssl=url.scheme == "https",
                    settings=chroma_settings,
                )
            else:
                settings.chroma_dir.mkdir(parents=True, exist_ok=True)
                client = chromadb.PersistentClient(
                    path=str(settings.chroma_dir), settings=chroma_settings
                )
            _clients[key] = client
    return client


def forget_chroma_client(settings: Settings) -> None:
    """Drop this process's client for the store so the next one re-reads it from disk.

    An embedded Chroma keeps its vector index in memory and never sees vectors another process
    (rag-ingest) wrote; a fresh client loads them. Clients of other stores are left alone.
    """
    # chromadb's only public way to forget a client, SharedSystemClient.clear_system_cache(),
    # drops every client of the process (other stores, other collections in tests); popping this
    # one identifier is a private API, held by the chromadb pin (<1.6) in pyproject.
    from chromadb.api.shared_system_client import SharedSystemClient

    key = settings.chroma_url or str(settings.chroma_dir.resolve())
    with _clients_lock:
        client = _clients.pop(key, None)
        identifier = getattr(client, "_identifier", None)
        if identifier is not None:
            SharedSystemClient._identifier_to_system.pop(identifier, None)
            SharedSystemClient._identifier_to_refcount.pop(identifier, None)


def store_signature(settings: Settings) -> tuple[int, ...] | None:
    """Size and mtime of the embedded store's SQLite files (pgvector: rows and an id checksum):
    they change when anyone writes. None for a Chroma server, which cannot tell."""
    if settings.vectorstore == "pgvector":
        from rag_core.pgvector_store import pg_signature

        return pg_signature(settings, settings.collection)
    if settings.chroma_url:
        return None
    signature: list[int] = []
    for name in ("chroma.sqlite3", "chroma.sqlite3-wal"):
        try:
            stat = (settings.chroma_dir / name).stat()
        except FileNotFoundError:
            signature += [0, 0]
        else:
            signature += [stat.st_mtime_ns, stat.st_size]
    return tuple(signature)


def store_signature_blind(settings: Settings) -> bool:
    """Whether :func:`store_signature` cannot see writes (a Chroma server): readers poll instead."""
    return settings.vectorstore == "chroma" and bool(settings.chroma_url)


def collection_exists(settings: Settings, name: str | None = None) -> bool:
    """Whether the collection has been created by an ingest run (never creates anything)."""
    if settings.vectorstore == "pgvector":
        from rag_core.pgvector_store import pg_collection_exists

        return pg_collection_exists(settings, name or settings.collection)
    if not settings.chroma_url and not (settings.chroma_dir / "chroma.sqlite3").exists():
        return False
    client = make_chroma_client(settings)
    wanted = name or settings.collection
    return any((c if isinstance(c, str) else c.name) == wanted for c in client.list_collections())


def make_vectorstore(
    settings: Settings,
    embeddings: Embeddings,
    *,
    collection: str | None = None,
    create: bool = False,
) -> VectorStore:
    """Open (or, for ingest, create) the collection with our embeddings, never Chroma's own."""
    name = collection or settings.collection
    # Check before opening a client: an embedded client would create an empty store on disk.
    if not create and not collection_exists(settings, name):
        raise IndexMissingError(
            f"collection {name!r} does not exist yet: run `rag-ingest PATH` to build the index"
        )
    if settings.vectorstore == "pgvector":
        from rag_core.pgvector_store import make_pgvector

        return make_pgvector(settings, embeddings, collection=name, create=create)
    return Chroma(
        client=make_chroma_client(settings),
        collection_name=name,
        embedding_function=embeddings,
        collection_metadata=COLLECTION_METADATA,
        create_collection_if_not_exists=create,
    )


def count_chunks(settings: Settings, collection: str | None = None) -> int:
    """Number of chunks the collection holds (chromadb's public ``Collection.count()``)."""
    if settings.vectorstore == "pgvector":
        from rag_core.pgvector_store import pg_count

        return pg_count(settings, collection or settings.collection)
    client = make_chroma_client(settings)
    return int(client.get_collection(collection or settings.collection).count())


def records_exist(settings: Settings) -> bool:
    """Whether ingest has created its record store (SQLite file, or its table in PostgreSQL)."""
    if settings.vectorstore == "pgvector":
        from rag_core.pgvector_store import pg_records_exist

        return pg_records_exist(settings)
    return (settings.data_dir / "ingest-records.sqlite").exists()


def vectorstore_label(settings: Settings) -> str:
    """Which store serves the index, for /health: chroma-embedded, chroma-server or pgvector."""
    if settings.vectorstore == "pgvector":
        return "pgvector"
    return "chroma-server" if settings.chroma_url else "chroma-embedded"
