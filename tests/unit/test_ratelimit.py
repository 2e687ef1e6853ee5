"""Rate limits: the moving window per key, and 429s from the app."""

from __future__ import annotations

import asyncio
from pathlib import Path

from httpx_sse import aconnect_sse
from rag_chain import RagResources
from rag_core.settings import load_settings

from app.security.ratelimit import (
    MemoryRateLimiter,
    RedisRateLimiter,
    make_rate_limiter,
    window,
)
from tests.support.apps import app_client, create_key
from tests.support.fakes import fake_chat_model, fake_resources

QUESTION = {"input": {"question": "Which port?"}}


async def test_the_burst_then_the_window_passes() -> None:
    # A window of 1 s (2 requests at 120 per minute): real time, short enough for a unit test.
    # `limits` reads time.time() itself; patching the global clock would also move asyncio's.
    limiter = MemoryRateLimiter(per_minute=120, burst=2)
    assert [(await limiter.hit("a")).allowed for _ in range(3)] == [True, True, False]
    denied = await limiter.hit("a")
    assert not denied.allowed and 0 < denied.retry_after <= 1.0
    assert denied.retry_after_header == "1"
    assert (await limiter.hit("b")).allowed, "each key has its own window"
    await asyncio.sleep(denied.retry_after + 0.05)
    assert [(await limiter.hit("a")).allowed for _ in range(3)] == [True, True, False]


def test_the_window_allows_the_burst_at_the_sustained_rate() -> None:
    for per_minute, burst, seconds in ((60, 20, 20), (30, 3, 6), (1, 4, 240), (7, 1, 9)):
        item = window(per_minute, burst)
        assert (item.amount, item.get_expiry()) == (burst, seconds)


def test_settings_choose_the_limiter(tmp_path: Path) -> None:
    assert make_rate_limiter(load_settings(data_dir=tmp_path, rate_limit_enabled=False)) is None
    memory = make_rate_limiter(load_settings(data_dir=tmp_path))
    assert isinstance(memory, MemoryRateLimiter)
    redis = make_rate_limiter(load_settings(data_dir=tmp_path, redis_url="redis://127.0.0.1:1/0"))
    assert isinstance(redis, RedisRateLimiter)


async def test_over_the_limit_is_429_with_retry_after(tmp_path: Path) -> None:
    res = fake_resources(
        tmp_path / "data", fake_chat_model(), rate_limit_burst=3, rate_limit_per_minute=1
    )
    async with app_client(res) as (_, client):
        codes = [
            (await client.post("/retriever/invoke", json=QUESTION)).status_code for _ in range(3)
        ]
        assert codes == [200, 200, 200]
        denied = await client.post("/retriever/invoke", json=QUESTION)
        assert denied.status_code == 429
        assert denied.json()["error"] == "rate_limited" and denied.json()["retry_after"] >= 1
        # 3 requests per 180 s window (1 per minute): it opens again 180 s after the first one.
        assert 170 < int(denied.headers["retry-after"]) <= 180
        assert (await client.get("/sessions")).status_code == 429, "all routes share the budget"
        for _ in range(5):
            assert (await client.get("/health")).status_code == 200, "/health is not limited"


async def test_a_stream_counts_once(tmp_path: Path) -> None:
    res = fake_resources(
        tmp_path / "data",
        fake_chat_model("one two three four five six seven eight"),
        rate_limit_burst=2,
        rate_limit_per_minute=1,
    )
    async with app_client(res) as (_, client):
        body = {"question": "How much does the Team plan cost?"}
        async with aconnect_sse(client, "POST", "/chat/stream", json=body) as source:
            events = [sse.event async for sse in source.aiter_sse()]
        assert events.count("token") >= 8
        assert (await client.post("/rag/stream", json={"input": body})).status_code == 200
        assert (await client.post("/chat", json=body)).status_code == 429


async def test_each_key_has_its_own_budget(tmp_path: Path) -> None:
    res = fake_resources(
        tmp_path / "data",
        fake_chat_model(),
        auth="apikey",
        rate_limit_burst=2,
        rate_limit_per_minute=1,
    )
    async with app_client(res) as (app, client):
        alice, bob = await create_key(app, "alice"), await create_key(app, "bob")
        for _ in range(2):
            assert (await client.get("/sessions", headers=alice)).status_code == 200
        assert (await client.get("/sessions", headers=alice)).status_code == 429
        assert (await client.get("/sessions", headers=bob)).status_code == 200
        guesses = [
            (
                await client.get("/sessions", headers={"Authorization": f"Bearer rag_{i}"})
            ).status_code
            for i in range(3)
        ]
        assert guesses == [401, 401, 429], "failed attempts spend the address's budget"
        assert (await client.get("/sessions", headers=bob)).status_code == 200


async def _addresses_allowed(res: RagResources, peer: str, forwarded_for: list[str]) -> list[int]:
    """Status of one /retriever call per X-Forwarded-For value, all from the peer ``peer``."""
    async with app_client(res, peer=peer) as (_, client):
        return [
            (
                await client.post(
                    "/retriever/invoke", json=QUESTION, headers={"X-Forwarded-For": value}
                )
            ).status_code
            for value in forwarded_for
        ]


async def test_behind_a_trusted_proxy_each_forwarded_client_has_its_own_budget(
    tmp_path: Path,
) -> None:
    res = fake_resources(
        tmp_path / "data",
        fake_chat_model(),
        rate_limit_burst=1,
        rate_limit_per_minute=1,
        trusted_proxies="10.0.0.0/8",
    )
    # The proxy appends what it saw: a client's own spoofed entry on the left changes nothing.
    codes = await _addresses_allowed(
        res, "10.1.2.3", ["198.51.100.7", "198.51.100.8", "1.1.1.1, 198.51.100.7"]
    )
    assert codes == [200, 200, 429]


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(tmp_path: Path) -> None:
    res = fake_resources(
        tmp_path / "data",
        fake_chat_model(),
        rate_limit_burst=1,
        rate_limit_per_minute=1,
        trusted_proxies="10.0.0.0/8",
    )
    codes = await _addresses_allowed(res, "203.0.113.9", ["198.51.100.7", "198.51.100.8"])
    assert codes == [200, 429]
