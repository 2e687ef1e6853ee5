"""Names that the writer (ingest) and the readers (chain, server) of the index must agree on."""

from __future__ import annotations

import re

from rag_core.settings import Settings

#: Metadata key holding who may see a chunk; documents ingested without --user are shared.
OWNER_KEY = "owner"
SHARED_OWNER = "_shared"
#: Owner of whatever a caller with no identity (auth off) stores: their conversations and the
#: documents they upload. Not a valid user name, so no API key ever maps to it.
ANONYMOUS_OWNER = "_anonymous"
#: Metadata key used by the indexing API to group a file's chunks (the path relative to its root).
SOURCE_KEY = "source"


#: User names, for rag-ingest --user and rag-admin create-key alike: a name one accepts, the other
#: must too. A leading "_" is reserved for owners no key can be (``_shared``, the anonymous owner of
#: conversations), so documents of a valid user are always reachable with that user's key.
USER_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
USER_RULE = "1-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit"


#: File extensions ingest can read (the keys of ``ingest.loaders.LOADERS``; a test keeps them equal).
DOCUMENT_EXTENSIONS = (".md", ".markdown", ".txt", ".text", ".html", ".htm", ".pdf", ".docx")


def valid_user(name: str) -> bool:
    """Whether ``name`` can own documents and hold API keys."""
    return USER_PATTERN.fullmatch(name) is not None


def valid_owner(owner: str) -> bool:
    """Whether ``owner`` may hold uploaded documents: a valid user, or the anonymous owner."""
    return owner == ANONYMOUS_OWNER or valid_user(owner)


def owner_tag(user: str | None) -> str:
    """The owner value stored on chunks of a user's (or the shared) documents."""
    return user or SHARED_OWNER


def record_namespace(settings: Settings, collection: str, user: str | None) -> str:
    """Record-manager namespace: one per store, collection and owner, so --prune stays in scope."""
    # pgvector's records live in the pgvector database itself: its URL need not be in the name.
    pgvector = settings.vectorstore == "pgvector"
    store = "pgvector" if pgvector else settings.chroma_url or "embedded"
    return f"{store}|{collection}|{owner_tag(user)}"
