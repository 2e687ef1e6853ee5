"""The body guard accepts exactly the fields LangServe's clients send, and still rejects the rest.

The field sets themselves are captured from the real clients in tests/clients; here each client's
body, as it sends it, goes through the in-process app on every endpoint.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.langserve.body_guard import ALLOWED_FIELDS
from app.langserve.client_fields import CLIENTS, STREAM_FILTERS
from tests.support.apps import app_client
from tests.support.fakes import fake_resources

QUESTION = {"question": "Which port does Quillfeather listen on?"}
#: A value of each field as the clients send it (filters unset: null).
VALUES: dict[str, Any] = {
    "input": QUESTION,
    "inputs": [QUESTION, QUESTION],
    "config": {},
    "kwargs": {},
    "diff": False,
    **dict.fromkeys(STREAM_FILTERS),
}
SENT = [
    (client, endpoint, sorted(fields))
    for client, by_endpoint in CLIENTS.items()
    for endpoint, fields in by_endpoint.items()
]


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(fake_resources(tmp_path / "data")) as (_, c):
        yield c


def test_the_guard_accepts_the_union_of_what_clients_send() -> None:
    union: dict[str, set[str]] = {}
    for by_endpoint in CLIENTS.values():
        for endpoint, fields in by_endpoint.items():
            union.setdefault(endpoint, set()).update(fields)
    assert union == ALLOWED_FIELDS
    assert "diff" in ALLOWED_FIELDS["stream_events"]  # LangChain.js streamEvents (issue 14)
    assert "diff" not in ALLOWED_FIELDS["invoke"]


@pytest.mark.parametrize(("who", "endpoint", "fields"), SENT)
async def test_every_client_body_is_accepted(
    client: httpx.AsyncClient, who: str, endpoint: str, fields: list[str]
) -> None:
    body = {field: VALUES[field] for field in fields}
    response = await client.post(f"/rag/{endpoint}", json=body)
    assert response.status_code == 200, f"{who} /{endpoint}: {response.text}"
    assert "event: error" not in response.text


@pytest.mark.parametrize("endpoint", sorted(ALLOWED_FIELDS))
async def test_unknown_fields_are_still_rejected(client: httpx.AsyncClient, endpoint: str) -> None:
    body = {field: VALUES[field] for field in ALLOWED_FIELDS[endpoint]} | {"bogus": 1}
    response = await client.post(f"/rag/{endpoint}", json=body)
    assert response.status_code == 422, response.text
    assert "unknown field(s) ['bogus']" in response.json()["message"]


async def test_diff_is_only_known_where_clients_send_it(client: httpx.AsyncClient) -> None:
    response = await client.post("/rag/invoke", json={"input": QUESTION, "diff": False})
    assert response.status_code == 422
    assert "unknown field(s) ['diff']" in response.json()["message"]
