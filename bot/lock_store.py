"""Kesher's lock store: one message per conversation at a time, across replicas, without blocking the event loop.

Rasa 3.6's ``RedisLockStore`` takes and releases a conversation's lock with six
round trips of the *synchronous* redis client per turn (each one stops every
other conversation in the process while it waits), and reads, changes and
writes the lock's JSON without any atomicity, so two replicas can take the same
ticket. This store (``endpoints.yml``: ``type: bot.lock_store.RedisTicketLockStore``)
keeps Rasa's ticket semantics (messages of a conversation are served in the
order they arrived; a ticket expires after ``TICKET_LOCK_LIFETIME``, 60 s by
default, so a crashed replica cannot hold a conversation forever) with one Lua
script per step on ``redis.asyncio``: taking a free lock is one round trip,
releasing it another. A message that must wait polls every few milliseconds
(Rasa's store waits a whole second between tries).
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, Callable, Dict, List, Optional

from rasa.core.lock import TicketLock
from rasa.core.lock_store import LOCK_LIFETIME, LockError, LockStore
from rasa.utils.endpoints import EndpointConfig
from redis.asyncio import Redis

from bot.redis_client import LoopBoundRedis
from core.redis_keys import DEFAULT_TRACKER_PREFIX, TrackerKeys
from handoff.redis_client import RedisAddress

__all__ = ["RedisTicketLockStore"]

logger = logging.getLogger(__name__)

# KEYS: the queue (sorted set of tickets), the tickets' deadlines (hash; field "next" counts tickets).
# ARGV[1]: ticket lifetime (ms). Returns {ticket, 1 if it may go now}.
_ENTER = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local lifetime = tonumber(ARGV[1])
local ticket = redis.call('HINCRBY', KEYS[2], 'next', 1)
redis.call('ZADD', KEYS[1], ticket, ticket)
redis.call('HSET', KEYS[2], ticket, now + lifetime)
redis.call('PEXPIRE', KEYS[1], lifetime)
redis.call('PEXPIRE', KEYS[2], lifetime)
while true do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if tonumber(redis.call('HGET', KEYS[2], head) or '0') > now then
    return {ticket, head == tostring(ticket) and 1 or 0}
  end
  redis.call('ZREM', KEYS[1], head)
  redis.call('HDEL', KEYS[2], head)
end
"""

# KEYS as above; ARGV[1]: the ticket. Returns 1: its turn, 0: wait, -1: the ticket expired.
_TRY = """
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
while true do
  local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if not head then return -1 end
  if tonumber(redis.call('HGET', KEYS[2], head) or '0') > now then
    if head == ARGV[1] then return 1 end
    if not redis.call('ZSCORE', KEYS[1], ARGV[1]) then return -1 end
    return 0
  end
  redis.call('ZREM', KEYS[1], head)
  redis.call('HDEL', KEYS[2], head)
end
"""

# KEYS as above; ARGV[1]: the ticket. Removes it; the keys go when no ticket is left.
_LEAVE = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
if redis.call('ZCARD', KEYS[1]) == 0 then redis.call('DEL', KEYS[1], KEYS[2]) end
return 1
"""

_FIRST_WAIT = 0.005
_LONGEST_WAIT = 0.1


class RedisTicketLockStore(LockStore):
    """Rasa's ticket lock on ``redis.asyncio`` with Lua scripts (see the module docstring)."""

    def __init__(self, endpoint_config: Optional[EndpointConfig] = None, *, host: str = "localhost",
                 port: Any = 6379, db: Any = 0, password: Optional[str] = None,
                 key_prefix: Optional[str] = None, sentinels: Optional[str] = None,
                 sentinel_master: Optional[str] = None, sentinel_password: Optional[str] = None,
                 redis: Optional[Callable[[], Redis]] = None) -> None:
        """Keeps the connection settings; connects on first use, in the loop that uses it.

        Args:
            endpoint_config: ``endpoints.yml``'s ``lock_store`` (``url``, ``port``, ``db``, ``password``,
                ``key_prefix``, ``sentinels``, ``sentinel_master``, ``sentinel_password``), as Rasa
                passes it; overrides the keyword arguments.
            host: Redis host.
            port: Redis port.
            db: Redis database number.
            password: Redis password (empty: none).
            key_prefix: Prefix of the keys (:class:`core.redis_keys.TrackerKeys`).
            sentinels: Redis Sentinel addresses, ``host:port,...`` (empty: ``host:port`` directly).
            sentinel_master: The name the sentinels know the primary by.
            sentinel_password: The sentinels' password.
            redis: Gives the client to use instead (a process's own; the store never closes it).
        """
        options: Dict[str, Any] = {"sentinels": sentinels, "sentinel_master": sentinel_master,
                                   "sentinel_password": sentinel_password}
        if endpoint_config is not None:
            options = {**options, **endpoint_config.kwargs}
            host = endpoint_config.url or host
            port, db = options.get("port", port), options.get("db", db)
            password, key_prefix = options.get("password", password), options.get("key_prefix", key_prefix)
        self.address = RedisAddress.from_endpoint(host, port, db, password, options)
        self.keys_ = TrackerKeys(key_prefix or DEFAULT_TRACKER_PREFIX)
        self._redis = LoopBoundRedis(self.address, redis)

    @property
    def redis(self) -> Redis:
        """The client for the running event loop (a client is bound to the loop it was first used in)."""
        return self._redis.client

    async def close(self) -> None:
        """Closes the Redis client."""
        await self._redis.close()

    def _keys(self, conversation_id: str) -> List[str]:
        return [self.keys_.lock_queue(conversation_id), self.keys_.lock_tickets(conversation_id)]

    @asynccontextmanager
    async def lock(self, conversation_id: str, lock_lifetime: float = LOCK_LIFETIME,
                   wait_time_in_seconds: float = 1) -> AsyncIterator[TicketLock]:
        """Holds the conversation's lock for the ``async with`` block, after the messages that came before.

        Args:
            conversation_id: The conversation.
            lock_lifetime: Seconds after which a ticket expires (its holder is presumed dead).
            wait_time_in_seconds: The longest pause between two tries while waiting.

        Raises:
            LockError: The ticket expired before its turn came.
        """
        keys = self._keys(conversation_id)
        lifetime_ms = max(1, int(lock_lifetime * 1000))
        ticket, now = await self.redis.eval(_ENTER, 2, *keys, lifetime_ms)
        try:
            wait = _FIRST_WAIT
            while not int(now):
                await asyncio.sleep(wait)
                wait = min(wait * 2, _LONGEST_WAIT, wait_time_in_seconds)
                state = int(await self.redis.eval(_TRY, 2, *keys, ticket))
                if state < 0:
                    raise LockError(f"Could not acquire lock for conversation_id '{conversation_id}'.")
                now = state
            yield TicketLock(conversation_id)
        finally:
            await self.redis.eval(_LEAVE, 2, *keys, ticket)
