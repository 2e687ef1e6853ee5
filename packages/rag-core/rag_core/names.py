"""Names that the writer (ingest) and the readers (chain, server) of the index must agree on."""

from __future__ import annotations

from rag_core.settings import Settings

#: Metadata key holding who may see a chunk; documents ingested without --user are shared.
OWNER_KEY = "owner"
SHARED_OWNER = "_shared"
#: Metadata key used by the indexing API to group a file's chunks (the path relative to its root).
SOURCE_KEY = "source"


def owner_tag(user: str | None) -> str:
    """The owner value stored on chunks of a user's (or the shared) documents."""
    return user or SHARED_OWNER


def record_namespace(settings: Settings, collection: str, user: str | None) -> str:
    """Record-manager namespace: one per store, collection and owner, so --prune stays in scope."""
    store = settings.chroma_url or "embedded"
    return f"{store}|{collection}|{owner_tag(user)}"
