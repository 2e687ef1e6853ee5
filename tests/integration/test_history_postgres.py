"""History and API keys on a real PostgreSQL: schema creation under concurrent starts, owner
scoping, follow-ups through the app, and a restart. Each test uses its own table prefix."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from app.history.db import Database
from app.history.keys import ApiKeyStore
from app.history.store import HistoryStore
from tests.support.apps import app_client, create_key
from tests.support.fakes import ExplodingChatModel, fake_resources
from tests.support.services import drop_tables, require_postgres, unique_prefix

STANDALONE = "How much does the Team plan cost?"
REPLY = "Twelve euros per user per month."


@pytest.fixture
async def pg() -> AsyncIterator[tuple[str, str]]:
    url = require_postgres()
    prefix = unique_prefix()
    yield url, prefix
    await drop_tables(url, prefix)


async def test_concurrent_starts_create_the_schema_once(pg: tuple[str, str]) -> None:
    url, prefix = pg
    databases = [Database(url, prefix) for _ in range(6)]
    try:
        await asyncio.gather(*(db.ready() for db in databases))
        await asyncio.gather(*(db.ready() for db in databases))  # idempotent
        store = HistoryStore(databases[0])
        await store.record_turn(
            "alice", "s", question="q", standalone_question=None, answer="a", sources=[]
        )
        assert len((await HistoryStore(databases[-1]).get_session("alice", "s"))["messages"]) == 2  # type: ignore[index]
    finally:
        await asyncio.gather(*(db.close() for db in databases))


async def test_store_scopes_sessions_by_owner_and_races_on_first_turn(pg: tuple[str, str]) -> None:
    url, prefix = pg
    db = Database(url, prefix)
    store = HistoryStore(db)
    try:
        turns = [
            store.record_turn(
                "alice", "new", question=f"q{i}", standalone_question=None, answer="a", sources=[]
            )
            for i in range(5)
        ]
        await asyncio.gather(*turns)  # five first turns of one new session at once
        session = await store.get_session("alice", "new")
        assert session is not None and len(session["messages"]) == 10
        assert await store.get_session("bob", "new") is None
        assert not await store.delete_session("bob", "new")
        assert [s["messages"] for s in await store.list_sessions("alice")] == [10]
        assert await store.delete_session("alice", "new")
        assert await store.list_sessions("alice") == []
        keys = ApiKeyStore(db)
        record, key = await keys.create("alice")
        assert (await keys.lookup(key)).user == "alice"  # type: ignore[union-attr]
        assert await keys.revoke(record.id)
        assert await keys.lookup(key) is None
    finally:
        await db.close()


async def test_follow_ups_and_restart_through_the_app(pg: tuple[str, str], tmp_path: Path) -> None:
    url, prefix = pg
    settings = {"database_url": url, "table_prefix": prefix, "auth": "apikey"}
    model = GenericFakeChatModel(
        messages=iter([AIMessage(content=m) for m in ("It is for teams.", STANDALONE, REPLY)])
    )
    res = fake_resources(tmp_path / "data", model, **settings)
    async with app_client(res) as (app, client):
        alice = await create_key(app, "alice")
        bob = await create_key(app, "bob")
        for question in ("Tell me about the Team plan", "and how much does it cost?"):
            response = await client.post(
                "/chat", json={"question": question, "session_id": "plan"}, headers=alice
            )
            assert response.status_code == 200, response.text
        assert response.json()["answer"] == REPLY
        assert (await client.get("/sessions/plan", headers=bob)).status_code == 404
    assert not (tmp_path / "data" / "history.sqlite").exists(), "PostgreSQL, not the SQLite file"

    again = fake_resources(tmp_path / "data", ExplodingChatModel(), with_index=False, **settings)
    async with app_client(again) as (_, client):
        session = (await client.get("/sessions/plan", headers=alice)).json()
    assert [m["role"] for m in session["messages"]] == ["user", "assistant"] * 2
    assert session["messages"][2]["standalone_question"] == STANDALONE
    assert session["messages"][3]["content"] == REPLY
