"""Rate limits per caller with the ``limits`` library: a moving window in memory or in Redis.

``RAG_RATE_LIMIT_BURST`` requests are allowed in any window of ``BURST / RAG_RATE_LIMIT_PER_MINUTE``
minutes: at most BURST at once, PER_MINUTE sustained. ``limits`` (the library behind slowapi) keeps
the window atomically in memory (one budget per process) or in Redis (``RAG_REDIS_URL``: every
server process sharing that Redis draws from the same budget), which replaced a hand-written token
bucket and its own Lua script. One difference from that bucket: a spent burst comes back when the
window has passed, all at once, rather than one request at a time. If Redis becomes unreachable
the limiter falls back to the in-memory window (and logs it) rather than refusing all traffic.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import dataclass
from typing import Any, Protocol

from limits import RateLimitItem, RateLimitItemPerSecond
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from rag_core.settings import Settings

log = logging.getLogger("rag.ratelimit")


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
    """Counts one request against a caller's budget."""

    async def hit(self, key: str) -> Decision:
        """Spend one request for ``key`` if the budget allows it."""
        ...

    async def close(self) -> None:
        """Release connections."""
        ...


def window(per_minute: float, burst: int) -> RateLimitItem:
    """BURST requests per window, the window being as long as PER_MINUTE takes to allow BURST."""
    seconds = max(1, math.ceil(burst * 60 / per_minute))
    return RateLimitItemPerSecond(burst, seconds)


class WindowRateLimiter:
    """A moving window per key in a ``limits`` storage."""

    def __init__(self, storage: Storage, item: RateLimitItem) -> None:
        self.storage = storage
        self.item = item
        self.strategy = MovingWindowRateLimiter(storage)

    async def hit(self, key: str) -> Decision:
        """Count the request, or say when the oldest one in the window expires."""
        if await self.strategy.hit(self.item, key):
            return Decision(True)
        stats = await self.strategy.get_window_stats(self.item, key)
        return Decision(False, max(0.0, stats.reset_time - time.time()))

    async def close(self) -> None:
        """Nothing to release (a Redis limiter closes its own pool)."""


class MemoryRateLimiter(WindowRateLimiter):
    """Windows in this process's memory."""

    def __init__(self, per_minute: float, burst: int) -> None:
        super().__init__(MemoryStorage(), window(per_minute, burst))


class RedisRateLimiter:
    """Windows in Redis, shared by every process using the same URL and prefix."""

    def __init__(self, url: str, prefix: str, per_minute: float, burst: int) -> None:
        import redis.asyncio as redis

        # Our own pool, so close() can release it through redis-py's public API (limits passes
        # its options to redis-py; its annotation only lists scalar ones).
        self.pool = redis.ConnectionPool.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        options: dict[str, Any] = {"connection_pool": self.pool}
        storage = RedisStorage(
            f"async+{url}", implementation="redispy", key_prefix=f"{prefix}ratelimit", **options
        )
        self.shared = WindowRateLimiter(storage, window(per_minute, burst))
        self.fallback = MemoryRateLimiter(per_minute, burst)
        self._warned = False

    async def hit(self, key: str) -> Decision:
        """One atomic Redis call; the in-memory window if Redis is unreachable."""
        try:
            decision = await self.shared.hit(key)
        except Exception as exc:  # any Redis failure: degrade to per-process limits
            if not self._warned:
                log.warning("Redis rate limiting unavailable (%s); using in-memory limits", exc)
                self._warned = True
            return await self.fallback.hit(key)
        self._warned = False
        return decision

    async def close(self) -> None:
        """Close the connection pool."""
        await self.pool.disconnect()


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
