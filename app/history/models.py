"""The tables: conversations, their messages, and API keys (only their hashes).

Built per table prefix (``RAG_TABLE_PREFIX``) so several services, or parallel test runs, can share
one database without colliding. Sessions are keyed by (owner, id): two users may pick the same
session id and still never see each other's conversation.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

OWNER_LENGTH = 64
SESSION_ID_LENGTH = 128


@dataclass(frozen=True)
class Tables:
    """The three tables of one prefix, sharing one MetaData (for create_all)."""

    metadata: MetaData
    sessions: Table
    messages: Table
    api_keys: Table


def make_tables(prefix: str) -> Tables:
    """Declare the tables under ``prefix`` (e.g. ``rag_sessions``, ``rag_messages``, ``rag_api_keys``)."""
    metadata = MetaData()
    sessions = Table(
        f"{prefix}sessions",
        metadata,
        Column("owner", String(OWNER_LENGTH), primary_key=True),
        Column("id", String(SESSION_ID_LENGTH), primary_key=True),
        Column("title", String(200), nullable=False),
        Column("created_at", DateTime(), nullable=False),
        Column("updated_at", DateTime(), nullable=False),
    )
    messages = Table(
        f"{prefix}messages",
        metadata,
        Column("id", Integer, primary_key=True, autoincrement=True),
        Column("owner", String(OWNER_LENGTH), nullable=False),
        Column("session_id", String(SESSION_ID_LENGTH), nullable=False),
        Column("role", String(16), nullable=False),
        Column("content", Text, nullable=False),
        Column("standalone_question", Text, nullable=True),
        Column("sources", JSON, nullable=True),
        Column("created_at", DateTime(), nullable=False),
        ForeignKeyConstraint(
            ["owner", "session_id"], [sessions.c.owner, sessions.c.id], ondelete="CASCADE"
        ),
        Index(f"{prefix}messages_by_session", "owner", "session_id", "id"),
    )
    api_keys = Table(
        f"{prefix}api_keys",
        metadata,
        Column("id", String(16), primary_key=True),
        Column("owner", String(OWNER_LENGTH), nullable=False),
        Column("key_hash", String(64), nullable=False, unique=True),
        Column("created_at", DateTime(), nullable=False),
        Column("revoked_at", DateTime(), nullable=True),
    )
    return Tables(metadata, sessions, messages, api_keys)
