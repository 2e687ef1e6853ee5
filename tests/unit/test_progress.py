"""Stall timeouts: a queue behind a busy shared model is not a stall, silence is."""

from __future__ import annotations

import asyncio

import pytest

from app.progress import model_progress_probe, wait_with_progress


async def test_result_is_returned() -> None:
    async def answer() -> str:
        await asyncio.sleep(0.01)
        return "ok"

    assert await wait_with_progress(answer(), timeout=1.0, probe=None) == "ok"


async def test_no_progress_times_out_and_cancels_the_work() -> None:
    cancelled = asyncio.Event()

    async def stalled() -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    counter = {"tokens": 5}
    with pytest.raises(TimeoutError):
        await wait_with_progress(stalled(), timeout=0.1, probe=lambda: counter["tokens"])
    assert cancelled.is_set()


async def test_waiting_while_the_shared_model_works_is_not_a_stall() -> None:
    counter = {"tokens": 0}

    async def others_generating() -> None:
        while True:
            counter["tokens"] += 1
            await asyncio.sleep(0.02)

    async def queued_then_answered() -> str:
        await asyncio.sleep(0.5)  # five timeouts long, but the model keeps producing tokens
        return "answer"

    busy = asyncio.create_task(others_generating())
    try:
        got = await wait_with_progress(
            queued_then_answered(), timeout=0.1, probe=lambda: counter["tokens"]
        )
    finally:
        busy.cancel()
    assert got == "answer"


async def test_without_a_probe_it_is_a_plain_timeout() -> None:
    with pytest.raises(TimeoutError):
        await wait_with_progress(asyncio.sleep(0.5), timeout=0.05, probe=None)


def test_probe_only_for_models_that_count_tokens() -> None:
    from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
    from rag_chain.llamacpp import LlamaCppChatModel

    assert model_progress_probe(GenericFakeChatModel(messages=iter([]))) is None
    model = LlamaCppChatModel(model_path="/nonexistent.gguf")
    probe = model_progress_probe(model)
    assert probe is not None and probe() == 0
