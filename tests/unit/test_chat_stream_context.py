"""``/chat/stream``'s ``done`` event carries the answer's context (mode, refusal and its reason),
which the web app shows; the events before it are unchanged."""

from __future__ import annotations

from pathlib import Path

from tests.support.apps import app_client
from tests.support.fakes import ExplodingChatModel, fake_chat_model, fake_resources
from tests.support.sse import parse_sse

PRICING_Q = "How much does the Team plan cost?"
OFF_DOMAIN_Q = "Quels sont les meilleurs fromages?"


async def test_done_carries_the_answer_mode(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", fake_chat_model("Twelve euros."))
    async with app_client(res) as (_, client):
        events = parse_sse((await client.post("/chat/stream", json={"question": PRICING_Q})).text)
    assert [name for name, _ in events][0] == "sources"
    name, done = events[-1]
    assert name == "done"
    assert done["answer"] == "Twelve euros."
    assert done["context"]["answer_mode"] == "generate"
    assert "refusal_reason" not in done["context"]


async def test_done_of_a_refusal_says_why(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", ExplodingChatModel())
    async with app_client(res) as (_, client):
        events = parse_sse(
            (await client.post("/chat/stream", json={"question": OFF_DOMAIN_Q})).text
        )
    name, done = events[-1]
    assert name == "done"
    assert done["context"]["refused"] is True
    assert "RAG_SCORE_THRESHOLD" in done["context"]["refusal_reason"]


async def test_extract_mode_is_named(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", ExplodingChatModel(), answer_mode="extract")
    async with app_client(res) as (_, client):
        events = parse_sse((await client.post("/chat/stream", json={"question": PRICING_Q})).text)
    assert events[-1][1]["context"]["answer_mode"] == "extract"
    assert events[-1][1]["context"]["supports"][0]["source"] == "pricing.md"
