"""Which failures mean "the document index cannot be read", decided next to the vector store.

The web layer needs this to answer 503 ``index_unavailable`` instead of blaming the model, but only
the store's package should know what Chroma's failures look like. Two kinds count: the errors
chromadb and its SQLite file raise on purpose (:data:`INDEX_ERRORS`), and the plain errors
(``AttributeError``, ``KeyError``...) a Chroma client raises from its own code after it failed to
open a damaged store; those are recognised by the module that raised them, not by the message.
"""

from __future__ import annotations

import sqlite3
from types import TracebackType

import chromadb.errors

#: Exceptions that always come from the index (its client library or its SQLite file).
INDEX_ERRORS: tuple[type[Exception], ...] = (chromadb.errors.ChromaError, sqlite3.DatabaseError)

#: psycopg serves only pgvector here (the history database goes through asyncpg), so a failure
#: raised from its code, even wrapped by SQLAlchemy (which keeps psycopg's traceback), is the index.
_STORE_MODULES = ("chromadb", "langchain_chroma", "psycopg", "langchain_postgres")


def _raised_in_store(tb: TracebackType | None) -> bool:
    """Whether the innermost frame of ``tb`` runs the store client's (or its LangChain wrapper's)
    code: chromadb, or psycopg for pgvector."""
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    module = str(tb.tb_frame.f_globals.get("__name__", ""))
    return module.split(".", 1)[0] in _STORE_MODULES


def is_index_failure(exc: BaseException) -> bool:
    """Whether ``exc`` comes from the vector store (damaged or unreadable index), not the model."""
    return isinstance(exc, INDEX_ERRORS) or _raised_in_store(exc.__traceback__)
