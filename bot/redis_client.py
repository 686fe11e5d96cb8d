"""One Redis client per event loop, for Rasa's stores (the tracker store and the lock store).

Rasa builds its stores before any event loop runs and may later use them from
more than one loop (``rasa run``'s server loop, the loops of ``rasa test``); a
``redis.asyncio`` client is bound to the loop it was first used in, so the
stores ask :attr:`LoopBoundRedis.client` for the running loop's client, made by
Kesher's one client factory (``handoff.redis_client``: plain Redis, or the primary
Redis Sentinel names).
"""

from __future__ import annotations

import asyncio
from typing import Callable, Optional

from redis.asyncio import Redis

from handoff.redis_client import RedisAddress, async_redis

__all__ = ["LoopBoundRedis"]


class LoopBoundRedis:
    """A ``redis.asyncio`` client made again when the running event loop changes."""

    def __init__(self, address: RedisAddress, make: Optional[Callable[[], Redis]] = None) -> None:
        """Remembers where Redis is; connects on first use.

        Args:
            address: Where Redis is (host and port, or the sentinels).
            make: Builds the client instead (a process that already has one passes it; never closed here).
        """
        self.address = address
        self._make = make
        self._client: Optional[Redis] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    @property
    def client(self) -> Redis:
        """The client for the running event loop."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = self._make() if self._make is not None else async_redis(self.address)
            self._loop = loop
        return self._client

    async def close(self) -> None:
        """Closes the client, if one was made here."""
        if self._client is not None and self._make is None:
            await self._client.close()
        self._client = None
