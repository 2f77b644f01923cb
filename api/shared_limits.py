"""Rate-limit buckets kept in Redis (``NEWSDESK_REDIS_URL``), shared by API replicas.

The same token bucket as ``limits.TokenBuckets`` (``burst`` requests at once, refilled at
``per_minute``), updated by one Lua script so that a take is atomic whichever replica runs it,
on Redis's clock so that replicas' clocks need not agree. A bucket expires once it would have
refilled: forgetting it changes nothing. If Redis cannot be reached, the replica counts on its
own (a per-process bucket) and logs why, rather than refusing or admitting everyone."""

from __future__ import annotations

import logging
import math

import redis.asyncio as redis

from newsdesk.api.limits import TokenBuckets

log = logging.getLogger(__name__)

KEY_PREFIX = "newsdesk:rate:"

# KEYS[1]: the caller's bucket; ARGV: tokens a second, burst. Returns the seconds to wait
# (0: the request may go ahead), as a string (Lua numbers become integers on the way out).
_TAKE = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local time = redis.call('TIME')
local now = tonumber(time[1]) + tonumber(time[2]) / 1000000
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or burst
local at = tonumber(state[2]) or now
tokens = math.min(burst, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 1 then tokens = tokens - 1 else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil((burst - tokens) / rate * 1000) + 1000)
return tostring(wait)
"""


class RedisTokenBuckets:
    """A token bucket per caller, in Redis."""

    def __init__(self, url: str, per_minute: float, burst: int) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst)
        self._redis = redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2)
        self._script = self._redis.register_script(_TAKE)
        self._local = TokenBuckets(per_minute, burst)  # while Redis cannot be reached
        self._failing = False

    async def reserve(self, caller: str) -> float:
        """Spend one token: 0 when the request may go ahead, else seconds until it may."""
        try:
            wait = float(
                await self._script(keys=[KEY_PREFIX + caller], args=[self.rate, self.burst])
            )
        except (redis.RedisError, OSError) as exc:
            if not self._failing:
                log.warning("rate limits: Redis unreachable (%s); counting in this process", exc)
            self._failing = True
            return self._local.take(caller)
        if self._failing:
            log.info("rate limits: Redis reachable again")
            self._failing = False
        return wait if math.isfinite(wait) else 0.0

    async def reachable(self) -> bool:
        try:
            return bool(await self._redis.ping())
        except (redis.RedisError, OSError):
            return False

    async def close(self) -> None:
        await self._redis.aclose()
