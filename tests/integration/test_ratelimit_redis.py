"""Rate limits on a real Redis: the shared moving window, the fallback when Redis is gone, and two
real server processes drawing from one shared budget."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest
import redis

from app.security.ratelimit import RedisRateLimiter
from tests.support.servers import LiveServer
from tests.support.services import require_redis, unique_prefix


@pytest.fixture
def redis_url() -> str:
    return require_redis()


def _cleanup(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    for key in client.scan_iter(f"{prefix}*"):
        client.delete(key)


async def test_redis_window_allows_the_burst_then_says_when(redis_url: str) -> None:
    prefix = unique_prefix("rl")
    limiter = RedisRateLimiter(redis_url, prefix, per_minute=6, burst=3)  # 3 per 30 s
    try:
        decisions = [await limiter.hit("k") for _ in range(5)]
        assert [d.allowed for d in decisions] == [True, True, True, False, False]
        # The window opens again 30 s after the first request, which was a moment ago.
        assert 25 < decisions[-1].retry_after <= 30
        assert (await limiter.hit("other")).allowed, "windows are per key"
        client = redis.Redis.from_url(redis_url)
        keys = list(client.scan_iter(f"{prefix}ratelimit*"))
        assert len(keys) == 2, keys
        assert all(0 < client.pttl(key) <= 30_000 for key in keys), "idle windows expire"
    finally:
        await limiter.close()
        _cleanup(redis_url, prefix)


async def test_unreachable_redis_falls_back_to_memory() -> None:
    limiter = RedisRateLimiter("redis://127.0.0.1:1/0", "x:", per_minute=1, burst=2)
    try:
        assert [(await limiter.hit("k")).allowed for _ in range(3)] == [True, True, False]
    finally:
        await limiter.close()


@pytest.mark.slow
def test_two_servers_share_one_budget(
    redis_url: str, rag_env: dict[str, str], live_server: Callable[..., LiveServer]
) -> None:
    prefix = unique_prefix("rl")
    env = {
        **rag_env,
        "RAG_REDIS_URL": redis_url,
        "RAG_REDIS_PREFIX": prefix,
        "RAG_RATE_LIMIT_BURST": "4",
        "RAG_RATE_LIMIT_PER_MINUTE": "1",
        # Nothing here needs a model: skip loading MiniLM and the GGUF.
        "RAG_LLM": "ollama",
        "RAG_EMBEDDINGS": "ollama",
        "RAG_OLLAMA_BASE_URL": "http://127.0.0.1:9",
    }
    try:
        first, second = live_server(env), live_server(env)
        statuses = []
        for i in range(8):
            server = (first, second)[i % 2]
            response = httpx.get(f"{server.url}/rag/input_schema", timeout=10)
            statuses.append(response.status_code)
            if response.status_code == 429:
                assert int(response.headers["retry-after"]) >= 1
                assert response.json()["error"] == "rate_limited"
        # Alone, each server would allow 4 (8 in all); shared, the 4 tokens are spent once.
        assert statuses == [200] * 4 + [429] * 4, statuses
        assert httpx.get(f"{first.url}/health", timeout=10).status_code == 200
    finally:
        _cleanup(redis_url, prefix)
