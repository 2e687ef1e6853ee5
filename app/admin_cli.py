"""``rag-admin``: manage API keys (create, list, revoke) in the history database, and copy the
index between Chroma and pgvector (``migrate-index``).

Keys are printed once, at creation; only their SHA-256 hash is stored, so a lost key cannot be
shown again: revoke it and create another.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Awaitable, Callable

from rag_core.names import USER_RULE, valid_user
from rag_core.settings import Settings, SettingsError, load_settings
from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from app.history.db import Database
from app.history.keys import ApiKeyStore


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rag-admin",
        description="Manage API keys (RAG_AUTH=apikey). Keys live in the history database "
        "(RAG_DATABASE_URL, or SQLite under RAG_DATA_DIR).",
    )
    parser.add_argument("--data-dir", help="override RAG_DATA_DIR (where the SQLite file lives)")
    commands = parser.add_subparsers(dest="command", required=True)
    create = commands.add_parser("create-key", help="create a key for a user and print it once")
    create.add_argument("--user", required=True, help="who the key authenticates (owner of docs)")
    listing = commands.add_parser("list-keys", help="list keys (ids, users, revocation)")
    listing.add_argument("--json", action="store_true", help="one JSON list on stdout")
    revoke = commands.add_parser("revoke-key", help="revoke a key by its id")
    revoke.add_argument("key_id", help="the id shown by list-keys (also the 8 hex after 'rag_')")
    migrate = commands.add_parser(
        "migrate-index",
        help="copy the collection (chunks, vectors, ingest records) from the other vector store "
        "into --to, without embedding again, then verify the counts",
    )
    migrate.add_argument("--to", required=True, choices=["pgvector", "chroma"])
    migrate.add_argument(
        "--replace", action="store_true", help="overwrite a target collection that holds data"
    )
    migrate.add_argument("--json", action="store_true", help="one JSON summary on stdout")
    return parser


async def _with_store(settings: Settings, action: Callable[[ApiKeyStore], Awaitable[int]]) -> int:
    db = Database(settings.history_db_url, settings.table_prefix)
    try:
        return await action(ApiKeyStore(db))
    finally:
        await db.close()


def main(argv: list[str] | None = None) -> int:
    """Run one key-management command; exit 0 on success, 1 on failure, 2 on usage errors."""
    args = _parser().parse_args(argv)
    overrides: dict[str, object] = {"data_dir": args.data_dir} if args.data_dir else {}
    try:
        settings = load_settings(**overrides)
    except SettingsError as exc:
        print(f"rag-admin: {exc}", file=sys.stderr)
        return 2

    if args.command == "migrate-index":
        return _migrate_index(settings, args.to, replace=args.replace, as_json=args.json)

    async def create(store: ApiKeyStore) -> int:
        if not valid_user(args.user):
            print(f"rag-admin: --user must be {USER_RULE}", file=sys.stderr)
            return 2
        record, key = await store.create(args.user)
        print(key)
        print(
            f"key {record.id} for user {record.user!r}: store it now, it cannot be shown again",
            file=sys.stderr,
        )
        return 0

    async def list_keys(store: ApiKeyStore) -> int:
        keys = [k.describe() for k in await store.list()]
        if args.json:
            print(json.dumps(keys))
            return 0
        for k in keys:
            state = f"revoked {k['revoked_at']}" if k["revoked_at"] else "active"
            print(f"{k['id']}  {k['user']:<24} created {k['created_at']}  {state}")
        if not keys:
            print("no keys yet: rag-admin create-key --user NAME", file=sys.stderr)
        return 0

    async def revoke(store: ApiKeyStore) -> int:
        if await store.revoke(args.key_id):
            print(f"revoked {args.key_id}")
            return 0
        print(f"rag-admin: no active key with id {args.key_id!r}", file=sys.stderr)
        return 1

    actions = {"create-key": create, "list-keys": list_keys, "revoke-key": revoke}
    try:
        return asyncio.run(_with_store(settings, actions[args.command]))
    except (SQLAlchemyError, OSError) as exc:
        where = make_url(settings.history_db_url).render_as_string(hide_password=True)
        print(f"rag-admin: database {where} failed: {exc}", file=sys.stderr)
        return 1


def _migrate_index(settings: Settings, to: str, *, replace: bool, as_json: bool) -> int:
    """Run the copy; exit 1 with the reason when it cannot start or does not verify."""
    from ingest.migrate_index import MigrationError, migrate_index

    try:
        report = migrate_index(
            settings, "pgvector" if to == "pgvector" else "chroma", replace=replace
        )
    except (MigrationError, SQLAlchemyError, OSError) as exc:
        print(f"rag-admin: migrate-index: {exc}", file=sys.stderr)
        return 1
    if as_json:
        print(json.dumps(report.as_json()))
    else:
        print(
            f"copied {report.chunks} chunks and {report.records} ingest records of "
            f"{report.collection!r} from {report.source} to {report.target} "
            f"({report.seconds:.1f} s); counts verified"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
