"""Per-user documents: with keys on, nobody ever retrieves another user's chunks.

Two users hold conflicting private documents (each a different secret code). With the score
threshold at 0 and k above the corpus size, every search returns *everything* the caller may see,
so any leak would show up in every single answer; hundreds of questions through every route, plus
attempts to override the owner from the request, must all come back with exactly the shared
documents and the caller's own.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from tests.support.apps import app_client, create_key
from tests.support.fakes import fake_chat_model, fake_resources

CORPUS: list[tuple[str, str, str | None]] = [
    ("pricing.md", "The Team plan costs 12 euros per user per month.", None),
    ("setup.md", "Quillfeather listens on port 7420 by default.", None),
    ("alice-secret.md", "The secret code of the vault is ALPHA-1111.", "alice"),
    ("bob-secret.md", "The secret code of the vault is BRAVO-2222.", "bob"),
]
SHARED = {"pricing.md", "setup.md"}
VISIBLE = {"alice": SHARED | {"alice-secret.md"}, "bob": SHARED | {"bob-secret.md"}}
QUESTIONS = [
    "What is the secret code of the vault?",
    "Tell me Bob's secret code",
    "What is ALPHA-1111?",
    "BRAVO-2222",
    "How much is the Team plan?",
    "Which port?",
]
ROUNDS = 25  # 25 rounds x 6 questions x 2 users = 300 retrievals


@pytest.fixture
async def two_users(tmp_path: Path):  # type: ignore[no-untyped-def]
    res = fake_resources(
        tmp_path / "data",
        fake_chat_model("The code is in the context."),
        corpus=CORPUS,
        auth="apikey",
        score_threshold=0.0,
        top_k=10,
        max_top_k=10,
        rate_limit_enabled=False,
    )
    async with app_client(res) as (app, client):
        yield (
            app,
            client,
            {"alice": await create_key(app, "alice"), "bob": await create_key(app, "bob")},
        )


def _sources(output: Any) -> set[str]:
    return {s["source"] for s in output}


async def test_hundreds_of_questions_leak_nothing(
    two_users: tuple[FastAPI, httpx.AsyncClient, dict[str, dict[str, str]]],
) -> None:
    _, client, keys = two_users
    checked = 0
    for _ in range(ROUNDS):
        for question in QUESTIONS:
            for user, headers in keys.items():
                response = await client.post(
                    "/retriever/invoke", json={"input": {"question": question}}, headers=headers
                )
                assert response.status_code == 200, response.text
                assert _sources(response.json()["output"]) == VISIBLE[user]
                checked += 1
    assert checked == 300


async def test_every_answering_route_is_filtered(
    two_users: tuple[FastAPI, httpx.AsyncClient, dict[str, dict[str, str]]],
) -> None:
    _, client, keys = two_users
    question = {"question": "What is the secret code of the vault?"}
    for user, headers in keys.items():
        chat = await client.post("/chat", json=question, headers=headers)
        assert _sources(chat.json()["sources"]) <= VISIBLE[user]
        rag = await client.post("/rag/invoke", json={"input": question}, headers=headers)
        assert _sources(rag.json()["output"]["sources"]) <= VISIBLE[user]
        batch = await client.post("/rag/batch", json={"inputs": [question] * 3}, headers=headers)
        for output in batch.json()["output"]:
            assert _sources(output["sources"]) <= VISIBLE[user]
        stream = await client.post("/rag/stream", json={"input": question}, headers=headers)
        other = "BRAVO" if user == "alice" else "ALPHA"
        assert other not in stream.text
        conversation = await client.post(
            "/conversation/invoke",
            json={"input": {"messages": [{"type": "human", "content": question["question"]}]}},
            headers=headers,
        )
        assert conversation.status_code == 200 and other not in conversation.text


OVERRIDES: list[dict[str, Any]] = [
    {"config": {"configurable": {"rag_user": "bob"}}},
    {"config": {"configurable": {"rag_user": "bob", "k": 10}}},
    {"config": {"configurable": {"filter": {"owner": "bob"}}}},
    {"config": {"configurable": {"search_kwargs": {"filter": {"owner": {"$ne": "x"}}}}}},
    {"config": {"metadata": {"rag_user": "bob"}, "tags": ["bob"]}},
    {"kwargs": {"rag_user": "bob"}},
]


@pytest.mark.parametrize("extra", OVERRIDES)
async def test_the_client_cannot_choose_whose_documents_it_sees(
    two_users: tuple[FastAPI, httpx.AsyncClient, dict[str, dict[str, str]]], extra: dict[str, Any]
) -> None:
    _, client, keys = two_users
    body = {"input": {"question": "What is the secret code?"}, **extra}
    response = await client.post("/retriever/invoke", json=body, headers=keys["alice"])
    if response.status_code == 200:
        assert _sources(response.json()["output"]) == VISIBLE["alice"]
    else:
        assert response.status_code == 422, response.text
        assert "BRAVO" not in response.text


async def test_owner_cannot_be_smuggled_in_the_input_or_headers(
    two_users: tuple[FastAPI, httpx.AsyncClient, dict[str, dict[str, str]]],
) -> None:
    _, client, keys = two_users
    smuggled = {
        "question": "What is the secret code?",
        "rag_user": "bob",
        "filter": {"owner": "bob"},
    }
    rejected = await client.post(
        "/retriever/invoke", json={"input": smuggled}, headers=keys["alice"]
    )
    assert rejected.status_code == 422
    chat = await client.post("/chat", json={**smuggled}, headers=keys["alice"])
    assert chat.status_code == 422
    headers = {**keys["alice"], "X-User": "bob", "X-Forwarded-User": "bob", "Remote-User": "bob"}
    response = await client.post(
        "/retriever/invoke", json={"input": {"question": "secret code"}}, headers=headers
    )
    assert _sources(response.json()["output"]) == VISIBLE["alice"]


async def test_without_auth_only_shared_documents_are_searched(tmp_path: Path) -> None:
    res = fake_resources(
        tmp_path / "data", corpus=CORPUS, score_threshold=0.0, top_k=10, max_top_k=10
    )
    async with app_client(res) as (_, client):
        for body in (
            {"input": {"question": "secret code"}},
            {"input": {"question": "secret code"}, "config": {"configurable": {"rag_user": "bob"}}},
        ):
            response = await client.post("/retriever/invoke", json=body)
            if response.status_code == 200:
                assert _sources(response.json()["output"]) == SHARED
            else:
                assert response.status_code == 422
