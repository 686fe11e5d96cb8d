"""Rate limits: N requests per window, counted atomically in Redis (channels, desk, console).

A limit is ``count/seconds`` (a setting such as ``KESHER_LIMIT_MESSAGES_PER_SENDER=30/60``).
Each check names what is counted and for whom (a client address, a customer's
address); one Lua script increments every counter of a request and gives each a
window on its first hit, so N concurrent requests count as N and no counter
is left without an expiry. Over any limit, :meth:`RateLimiter.hit` raises
:class:`core.errors.TooManyRequests` with the seconds until the window ends,
which the edge answers as 429 with ``Retry-After``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import List, Sequence

from redis.asyncio import Redis

from core.errors import TooManyRequests
from core.redis_keys import RedisKeys

__all__ = ["Check", "Limit", "RateLimiter"]

# Increments KEYS[i] (limit ARGV[2i-1] per ARGV[2i] seconds, a window starting at its first hit).
# Returns {0, 0} when every counter is within its limit, else {i, seconds left} of the first one over.
_HIT = """
local over, wait = 0, 0
for i, key in ipairs(KEYS) do
  local limit, window = tonumber(ARGV[2 * i - 1]), tonumber(ARGV[2 * i])
  local n = redis.call('INCR', key)
  local ttl = redis.call('TTL', key)
  if ttl < 0 then
    redis.call('EXPIRE', key, window)
    ttl = window
  end
  if n > limit and over == 0 then
    over, wait = i, ttl
  end
end
return {over, wait}
"""


@dataclass(frozen=True)
class Limit:
    """At most ``count`` requests per ``seconds`` (``count`` 0: no limit).

    Attributes:
        count: Requests allowed in one window.
        seconds: The window's length.
    """

    count: int
    seconds: int

    @classmethod
    def parse(cls, spec: str) -> Limit:
        """A limit from its setting, ``count/seconds`` (checked by ``core.settings``).

        Raises:
            ValueError: Not ``count/seconds``.
        """
        count, _, seconds = spec.partition("/")
        return cls(int(count), max(1, int(seconds)))

    @property
    def off(self) -> bool:
        """True when this limit counts nothing."""
        return self.count <= 0


@dataclass(frozen=True)
class Check:
    """One counter a request adds to.

    Attributes:
        scope: What is counted (``web-session:source``), part of the Redis key.
        subject: For whom (a client address, a customer's address).
        limit: Its limit.
        what: What was limited, for the refusal's message ("new sessions from this address").
    """

    scope: str
    subject: str
    limit: Limit
    what: str


class RateLimiter:
    """Counts requests in Redis and refuses those over a limit (see the module docstring)."""

    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        """Keeps the Redis client and the key builder; connects nothing.

        Args:
            redis: ``redis.asyncio`` client.
            keys: Builds the counters' keys (``RedisKeys.rate``).
        """
        self.redis = redis
        self.keys = keys

    async def hit(self, checks: Sequence[Check]) -> None:
        """Counts one request against every check, atomically.

        Raises:
            TooManyRequests: Over one of the limits; says which, and when to try again.
            redis.exceptions.RedisError: Redis is unreachable (the caller answers 503).
        """
        active: List[Check] = [c for c in checks if not c.limit.off and c.subject]
        if not active:
            return
        args: List[int] = []
        for check in active:
            args += [check.limit.count, check.limit.seconds]
        over, wait = await self.redis.eval(
            _HIT, len(active), *[self.keys.rate(c.scope, c.subject) for c in active], *args)
        if int(over):
            check = active[int(over) - 1]
            raise TooManyRequests(
                f"too many {check.what}: at most {check.limit.count} in {check.limit.seconds} s; "
                f"try again in {int(wait)} s", retry_after=int(wait), text="limit_slow_down")
