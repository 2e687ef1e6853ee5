"""Follow-ups rewritten into standalone questions (rag_chain.conversation) and /chat sessions."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, HumanMessage
from rag_chain.conversation import (
    build_chat_chain,
    clean_standalone,
    format_history,
    make_condense_question,
)
from rag_core.settings import REFUSAL

from app.metrics import MetricsCallback
from tests.support.apps import app_client
from tests.support.fakes import ExplodingChatModel, fake_resources

REPLY = "Twelve euros per user per month."
STANDALONE = "How much does the Team plan cost?"


def scripted(*replies: str) -> GenericFakeChatModel:
    """A fake model answering ``replies`` in order (then failing: no unexpected extra calls)."""
    return GenericFakeChatModel(messages=iter([AIMessage(content=r) for r in replies]))


def test_clean_standalone_strips_labels_and_falls_back() -> None:
    assert clean_standalone('Standalone question: "What is X?"\nmore', "and X?") == "What is X?"
    assert clean_standalone("   ", "and X?") == "and X?"
    assert (
        clean_standalone("word " * 500 + "?", "and X?", "Tell me about Y")
        == "Tell me about Y and X?"
    )
    # A tiny model answering instead of rewriting: the previous question gives the referent.
    answered = clean_standalone(
        "It costs 12 euros.", "and the price?", "Tell me about the Team plan"
    )
    assert answered == "Tell me about the Team plan and the price?"
    vague = clean_standalone("What about the following?", "which providers?", "Is there SSO?")
    assert vague == "Is there SSO? which providers?", "a rewrite that lost the follow-up is dropped"


def test_format_history_keeps_the_last_turns_and_cuts_long_ones() -> None:
    history = [{"role": "user", "content": f"q{i}"} for i in range(10)]
    history.append({"role": "assistant", "content": "a" * 5000})
    text = format_history(history)
    assert text.splitlines()[0] == "User: q5"
    assert text.splitlines()[-1].startswith("Assistant: aaa") and len(text) < 1000


async def test_no_history_means_no_model_call(tmp_path: Path) -> None:
    model = ExplodingChatModel()
    res = fake_resources(tmp_path / "data", model)
    condense = make_condense_question(lambda: res)
    assert await condense.ainvoke({"question": "Which port?", "history": []}) == "Which port?"
    assert model.calls == 0


async def test_follow_up_is_rewritten_with_the_history(tmp_path: Path) -> None:
    model = scripted(STANDALONE)
    res = fake_resources(tmp_path / "data", model)
    condense = make_condense_question(lambda: res)
    history = [
        {"role": "user", "content": "Tell me about the Team plan"},
        {"role": "assistant", "content": "It is for teams."},
    ]
    got = await condense.ainvoke({"question": "and how much does it cost?", "history": history})
    assert got == STANDALONE


async def test_chat_chain_for_the_playground_streams_text_with_sources(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", scripted(STANDALONE, REPLY))
    chain = build_chat_chain(lambda: res)
    messages = [
        HumanMessage("Tell me about the Team plan"),
        AIMessage("It is for teams."),
        HumanMessage("and how much does it cost?"),
    ]
    pieces = [p async for p in chain.astream({"messages": messages})]
    text = "".join(pieces)
    assert len(pieces) > 2, "the answer streams"
    assert text.startswith(REPLY) and text.endswith("Sources: pricing.md lines 1-3")


async def test_chat_chain_rejects_a_conversation_not_ending_with_a_question(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", ExplodingChatModel())
    with pytest.raises(ValueError, match="human message"):
        await build_chat_chain(lambda: res).ainvoke({"messages": [AIMessage("hi")]})


async def test_session_follow_up_is_condensed_stored_and_readable(tmp_path: Path) -> None:
    # Turn 1: no history, one model call (the answer). Turn 2: condense, then answer.
    model = scripted("The Team plan is for teams.", STANDALONE, REPLY)
    res = fake_resources(tmp_path / "data", model)
    async with app_client(res) as (_, client):
        first = await client.post(
            "/chat", json={"question": "Tell me about the Team plan", "session_id": "s1"}
        )
        assert first.status_code == 200, first.text
        second = await client.post(
            "/chat", json={"question": "and how much does it cost?", "session_id": "s1"}
        )
        assert second.status_code == 200, second.text
        assert second.json()["answer"] == REPLY
        assert [s["source"] for s in second.json()["sources"]] == ["pricing.md"]

        session = (await client.get("/sessions/s1")).json()
        roles = [m["role"] for m in session["messages"]]
        assert roles == ["user", "assistant", "user", "assistant"]
        assert session["messages"][2]["standalone_question"] == STANDALONE
        assert session["messages"][3]["sources"][0]["source"] == "pricing.md"
        assert session["title"] == "Tell me about the Team plan"

        listing = (await client.get("/sessions")).json()["sessions"]
        assert [(s["session_id"], s["messages"]) for s in listing] == [("s1", 4)]
        assert (await client.delete("/sessions/s1")).status_code == 204
        missing = await client.get("/sessions/s1")
        assert missing.status_code == 404 and missing.json()["error"] == "not_found"
        assert (await client.delete("/sessions/s1")).status_code == 404


@pytest.mark.parametrize("path", ["/chat", "/chat/stream"])
async def test_the_follow_up_rewrite_runs_under_the_servers_callbacks(
    tmp_path: Path, path: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The rewrite runs beside the published chain on /chat (and /v1); like the same step inside
    /conversation's chain, it runs with the server's callbacks (metrics)."""
    seen: list[str] = []
    original = MetricsCallback.on_chat_model_start

    def recording(self: MetricsCallback, serialized: Any, messages: Any, **kwargs: Any) -> None:
        seen.append(messages[0][-1].content)
        original(self, serialized, messages, **kwargs)

    monkeypatch.setattr(MetricsCallback, "on_chat_model_start", recording)
    res = fake_resources(
        tmp_path / "data", scripted("The Team plan is for teams.", STANDALONE, REPLY)
    )
    async with app_client(res) as (_, client):
        for question in ("Tell me about the Team plan", "and how much does it cost?"):
            body = {"question": question, "session_id": "s1"}
            assert (await client.post(path, json=body)).status_code == 200
    assert len(seen) == 3, "the answer; then the rewrite and the answer"
    assert "and how much does it cost?" in seen[1], "the rewrite is asked the follow-up"


async def test_stream_turns_are_stored_too(tmp_path: Path) -> None:
    # The second turn has history: one model call to condense it, then a refusal (no call).
    res = fake_resources(tmp_path / "data", scripted("Quels fromages sont les meilleurs?"))
    async with app_client(res) as (_, client):
        body = {"question": "Quels sont les meilleurs fromages?", "session_id": "cheese"}
        async with client.stream("POST", "/chat/stream", json=body) as response:
            assert response.status_code == 200
            text = "".join([part async for part in response.aiter_text()])
        assert "event: done" in text
        plain = await client.post("/chat/stream", json=body, headers={"Accept": "text/plain"})
        assert plain.text == REFUSAL
        messages = (await client.get("/sessions/cheese")).json()["messages"]
    assert [m["content"] for m in messages if m["role"] == "assistant"] == [REFUSAL, REFUSAL]


async def test_history_survives_a_restart(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", ExplodingChatModel())
    async with app_client(res) as (_, client):
        await client.post(
            "/chat", json={"question": "Who won the world cup in 1998?", "session_id": "a"}
        )
    again = fake_resources(tmp_path / "data", ExplodingChatModel(), with_index=False)
    async with app_client(again) as (_, client):
        session = (await client.get("/sessions/a")).json()
    assert [m["content"] for m in session["messages"]] == [
        "Who won the world cup in 1998?",
        REFUSAL,
    ]


async def test_chat_playground_route_is_published(tmp_path: Path) -> None:
    res = fake_resources(tmp_path / "data", scripted(REPLY))
    async with app_client(res) as (_, client):
        got = await client.post(
            "/conversation/invoke",
            json={
                "input": {"messages": [{"type": "human", "content": "How much is the Team plan?"}]}
            },
        )
        assert got.status_code == 200, got.text
        assert got.json()["output"].startswith(REPLY)
        playground = await client.get("/conversation/playground/")
        assert playground.status_code == 200


async def test_a_dead_history_database_is_a_503_and_plain_questions_still_work(
    tmp_path: Path,
) -> None:
    dead = "postgresql+asyncpg://postgres@127.0.0.1:1/nothing"
    res = fake_resources(tmp_path / "data", scripted(REPLY), database_url=dead)
    async with app_client(res) as (_, client):
        assert (
            await client.post("/chat", json={"question": "Team plan price?"})
        ).status_code == 200
        for response in (
            await client.get("/sessions"),
            await client.get("/sessions/s1"),
            await client.delete("/sessions/s1"),
            await client.post("/chat", json={"question": "Team plan price?", "session_id": "s1"}),
        ):
            assert response.status_code == 503, response.text
            assert response.json()["error"] == "backend_unavailable"
