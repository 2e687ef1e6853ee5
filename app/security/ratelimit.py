"""Token-bucket rate limits: ``RAG_RATE_LIMIT_BURST`` requests at once, refilled at
``RAG_RATE_LIMIT_PER_MINUTE``.

In memory by default (one budget per process). With ``RAG_REDIS_URL`` the bucket lives in Redis and
is updated by one Lua script (atomic, clocked by Redis's own TIME), so every server process sharing
that Redis draws from the same budget. If Redis becomes unreachable the limiter falls back to the
in-memory buckets (and logs it) rather than refusing all traffic.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

from rag_core.settings import Settings

log = logging.getLogger("rag.ratelimit")

#: Idle full buckets are forgotten once the in-memory table grows past this.
MAX_MEMORY_BUCKETS = 10_000


@dataclass(frozen=True)
class Decision:
    """Whether a request may proceed, and if not, after how many seconds to retry."""

    allowed: bool
    retry_after: float = 0.0

    @property
    def retry_after_header(self) -> str:
        """Whole seconds for the Retry-After header (at least 1)."""
        return str(max(1, math.ceil(self.retry_after)))


class RateLimiter(Protocol):
    """Takes one token from a caller's bucket."""

    async def hit(self, key: str) -> Decision:
        """Spend one token for ``key`` if there is one."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


class MemoryRateLimiter:
    """Buckets in this process's memory (monotonic clock)."""

    def __init__(self, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._buckets: dict[str, tuple[float, float]] = {}

    async def hit(self, key: str) -> Decision:
        """Refill by elapsed time, then spend one token or say when one will be there."""
        now = time.monotonic()
        tokens, last = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            self._forget_idle(now)
            return Decision(True)
        self._buckets[key] = (tokens, now)
        return Decision(False, (1.0 - tokens) / self.rate)

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) <= MAX_MEMORY_BUCKETS:
            return
        full_after = self.burst / self.rate
        self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < full_after}

    async def close(self) -> None:
        """Nothing to release."""


# KEYS[1] bucket; ARGV: rate (tokens/s), burst. Returns {allowed (0/1), retry_after_ms}.
TOKEN_BUCKET_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local state = redis.call('HMGET', KEYS[1], 'tokens', 'ts')
local tokens = tonumber(state[1])
local ts = tonumber(state[2])
if tokens == nil or ts == nil then
  tokens = burst
  ts = now
end
tokens = math.min(burst, tokens + math.max(0, now - ts) * rate / 1000)
local allowed = 0
local retry_ms = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  retry_ms = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'ts', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, retry_ms}
"""


class RedisRateLimiter:
    """Buckets in Redis, shared by every process using the same URL and prefix."""

    def __init__(self, url: str, prefix: str, per_minute: float, burst: int) -> None:
        import redis.asyncio as redis

        self.client: Any = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self.script = self.client.register_script(TOKEN_BUCKET_LUA)
        self.prefix = f"{prefix}ratelimit:"
        self.rate = per_minute / 60.0
        self.burst = burst
        self.fallback = MemoryRateLimiter(per_minute, burst)
        self._warned = False

    async def hit(self, key: str) -> Decision:
        """One atomic script call; the in-memory bucket if Redis is unreachable."""
        try:
            allowed, retry_ms = await self.script(
                keys=[self.prefix + key], args=[repr(self.rate), self.burst]
            )
        except Exception as exc:  # any Redis failure: degrade to per-process limits
            if not self._warned:
                log.warning("Redis rate limiting unavailable (%s); using in-memory limits", exc)
                self._warned = True
            return await self.fallback.hit(key)
        self._warned = False
        return Decision(bool(allowed), int(retry_ms) / 1000.0)

    async def close(self) -> None:
        """Close the connection pool."""
        await self.client.aclose()


def make_rate_limiter(settings: Settings) -> RateLimiter | None:
    """The limiter the settings ask for, or None when rate limiting is off."""
    if not settings.rate_limit_enabled:
        return None
    if settings.redis_url:
        return RedisRateLimiter(
            settings.redis_url,
            settings.redis_prefix,
            settings.rate_limit_per_minute,
            settings.rate_limit_burst,
        )
    return MemoryRateLimiter(settings.rate_limit_per_minute, settings.rate_limit_burst)
