"""The history store on its default SQLite file: schema creation, owner scoping, ordering."""

from __future__ import annotations

import asyncio
from pathlib import Path

from rag_core.settings import load_settings

from app.history.db import Database
from app.history.store import HistoryStore


async def test_default_url_is_a_sqlite_file_under_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    db = Database(settings.history_db_url, settings.table_prefix)
    try:
        await db.ready()
    finally:
        await db.close()
    assert (tmp_path / "data" / "history.sqlite").exists()


async def test_concurrent_opens_of_one_file_create_the_schema_once(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite'}"
    databases = [Database(url) for _ in range(4)]
    try:
        await asyncio.gather(*(db.ready() for db in databases))
        stores = [HistoryStore(db) for db in databases]
        await asyncio.gather(
            *(
                store.record_turn(
                    "u", "s", question=f"q{i}", standalone_question=None, answer="a", sources=[]
                )
                for i, store in enumerate(stores)
            )
        )
        session = await stores[0].get_session("u", "s")
    finally:
        await asyncio.gather(*(db.close() for db in databases))
    assert session is not None and len(session["messages"]) == 8


async def test_recent_returns_the_last_messages_oldest_first(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'h.sqlite'}")
    store = HistoryStore(db)
    try:
        for i in range(5):
            await store.record_turn(
                "u", "s", question=f"q{i}", standalone_question=f"sq{i}", answer=f"a{i}", sources=[]
            )
        recent = await store.recent("u", "s", limit=4)
        assert [m["content"] for m in recent] == ["q3", "a3", "q4", "a4"]
        assert await store.recent("other", "s") == []
        assert (await store.get_session("u", "s"))["messages"][0]["standalone_question"] == "sq0"  # type: ignore[index]
        await store.record_turn(
            "u", "t", question="x", standalone_question=None, answer="y", sources=None
        )
        assert [s["session_id"] for s in await store.list_sessions("u")] == ["t", "s"]
    finally:
        await db.close()
