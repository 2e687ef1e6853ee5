"""API keys: every route but /health needs a valid Bearer key; sessions belong to their user."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from app.admin_cli import main as admin
from tests.support.apps import app_client, create_key
from tests.support.fakes import fake_chat_model, fake_resources

PROTECTED = [
    ("POST", "/chat", {"question": "How much does the Team plan cost?"}),
    ("POST", "/chat/stream", {"question": "How much does the Team plan cost?"}),
    ("POST", "/rag/invoke", {"input": {"question": "Which port?"}}),
    ("POST", "/rag/stream", {"input": {"question": "Which port?"}}),
    ("POST", "/retriever/invoke", {"input": {"question": "Which port?"}}),
    ("POST", "/conversation/invoke", {"input": {"messages": [{"type": "human", "content": "hi"}]}}),
    ("GET", "/rag/playground/", None),
    ("GET", "/conversation/playground/", None),
    ("GET", "/rag/input_schema", None),
    ("GET", "/sessions", None),
    ("GET", "/sessions/s1", None),
    ("DELETE", "/sessions/s1", None),
    ("GET", "/docs", None),
    ("GET", "/openapi.json", None),
]
# The web app at "/" is public (a browser must load it to type a key): tests/unit/test_web_routes.py.


@pytest.fixture
async def secured(tmp_path: Path):  # type: ignore[no-untyped-def]
    res = fake_resources(tmp_path / "data", fake_chat_model(), auth="apikey")
    async with app_client(res) as (app, client):
        yield app, client


def _is_401(response: httpx.Response) -> bool:
    body = response.json()
    return (
        response.status_code == 401
        and body["error"] == "unauthorized"
        and response.headers["www-authenticate"] == "Bearer"
        and "message" in body
    )


@pytest.mark.parametrize(("method", "path", "body"), PROTECTED)
async def test_every_route_needs_a_key(
    secured: tuple[FastAPI, httpx.AsyncClient], method: str, path: str, body: object
) -> None:
    _, client = secured
    for headers in ({}, {"Authorization": "Bearer rag_nope_nope"}, {"Authorization": "Basic eDp5"}):
        response = await client.request(method, path, json=body, headers=headers)
        assert _is_401(response), (headers, response.status_code, response.text)


async def test_health_stays_open_and_shows_the_count_only_to_key_holders(
    secured: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = secured
    anonymous = await client.get("/health")
    assert anonymous.status_code == 200 and anonymous.json()["index"] == "ready"
    assert "documents" not in anonymous.json(), "the count includes private documents"
    bad = await client.get("/health", headers={"Authorization": "Bearer rag_x_y"})
    assert bad.status_code == 200 and "documents" not in bad.json()
    good = await client.get("/health", headers=await create_key(app, "alice"))
    assert good.json()["documents"] == 4


async def test_a_valid_key_opens_the_routes_and_a_revoked_one_closes_them(
    secured: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = secured
    headers = await create_key(app, "alice")
    for method, path, body in PROTECTED:
        if path.startswith("/sessions/"):
            continue
        response = await client.request(method, path, json=body, headers=headers)
        assert response.status_code == 200, (path, response.text)
    key_id = headers["Authorization"].split("_")[1]
    assert await app.state.runtime.authenticator.keys.revoke(key_id)
    assert _is_401(await client.get("/sessions", headers=headers))


async def test_sessions_belong_to_their_user(secured: tuple[FastAPI, httpx.AsyncClient]) -> None:
    app, client = secured
    alice, bob = await create_key(app, "alice"), await create_key(app, "bob")
    asked = await client.post(
        "/chat",
        json={"question": "Which port does it use?", "session_id": "shared-name"},
        headers=alice,
    )
    assert asked.status_code == 200
    assert (await client.get("/sessions/shared-name", headers=alice)).status_code == 200
    for method in ("GET", "DELETE"):
        other = await client.request(method, "/sessions/shared-name", headers=bob)
        assert other.status_code == 404 and other.json()["error"] == "not_found"
    assert (await client.get("/sessions", headers=bob)).json() == {"sessions": []}
    # Bob may use the same session id: it is his own conversation, Alice's is untouched.
    await client.post(
        "/chat",
        json={"question": "What does QF-104 mean?", "session_id": "shared-name"},
        headers=bob,
    )
    mine = (await client.get("/sessions/shared-name", headers=alice)).json()["messages"]
    theirs = (await client.get("/sessions/shared-name", headers=bob)).json()["messages"]
    assert mine[0]["content"] == "Which port does it use?" and len(mine) == 2
    assert theirs[0]["content"] == "What does QF-104 mean?" and len(theirs) == 2


def test_admin_cli_creates_lists_and_revokes_keys(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = str(tmp_path / "data")
    assert admin(["--data-dir", data, "create-key", "--user", "alice"]) == 0
    key = capsys.readouterr().out.strip()
    assert key.startswith("rag_") and len(key) > 40
    assert admin(["--data-dir", data, "list-keys", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(k["user"], k["revoked_at"]) for k in listed] == [("alice", None)]
    assert key not in (tmp_path / "data" / "history.sqlite").read_bytes().decode("latin-1")
    assert admin(["--data-dir", data, "revoke-key", listed[0]["id"]]) == 0
    assert admin(["--data-dir", data, "revoke-key", listed[0]["id"]]) == 1
    assert admin(["--data-dir", data, "create-key", "--user", "_shared"]) == 2
    capsys.readouterr()
    assert admin(["--data-dir", data, "list-keys", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)[0]["revoked_at"] is not None
