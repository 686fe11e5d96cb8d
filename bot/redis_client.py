"""One Redis client per event loop, for Rasa's stores (the tracker store and the lock store).

Rasa builds its stores before any event loop runs and may later use them from
more than one loop (``rasa run``'s server loop, the loops of ``rasa test``); a
``redis.asyncio`` client is bound to the loop it was first used in, so the
stores ask :attr:`LoopBoundRedis.client` for the running loop's client.
"""

from __future__ import annotations

import asyncio
from typing import Optional

from redis.asyncio import Redis

__all__ = ["LoopBoundRedis"]


class LoopBoundRedis:
    """A ``redis.asyncio`` client made again when the running event loop changes."""

    def __init__(self, host: str, port: int, db: int, password: Optional[str]) -> None:
        """Remembers where Redis is; connects on first use."""
        self.host, self.port, self.db, self.password = host, port, db, password
        self._client: Optional[Redis] = None
        self._loop: Optional[asyncio.AbstractEventLoop] = None

    @property
    def client(self) -> Redis:
        """The client for the running event loop."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = Redis(host=self.host, port=self.port, db=self.db, password=self.password,
                                 decode_responses=True)
            self._loop = loop
        return self._client

    async def close(self) -> None:
        """Closes the client, if one was made."""
        if self._client is not None:
            await self._client.close()
            self._client = None
