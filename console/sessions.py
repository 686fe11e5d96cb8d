"""Console sessions and the login limiter, kept in Redis.

A session is a Redis hash under ``RedisKeys.session(token)`` holding the agent
id and the session's CSRF token; it lives 12 hours from its last use. Failed
logins are counted per agent id; after five within five minutes that id is
locked until the window passes.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Optional

from redis.asyncio import Redis

from core.redis_keys import RedisKeys

__all__ = [
    "LOGIN_FAILURE_LIMIT",
    "LOGIN_FAILURE_WINDOW_SECONDS",
    "SESSION_TTL_SECONDS",
    "LoginLimiter",
    "Session",
    "SessionStore",
]

SESSION_TTL_SECONDS = 12 * 3600
LOGIN_FAILURE_LIMIT = 5
LOGIN_FAILURE_WINDOW_SECONDS = 5 * 60


@dataclass(frozen=True)
class Session:
    """A logged-in console session.

    Attributes:
        token: The cookie value (secret).
        agent_id: Who is logged in.
        csrf: The token every POST of this session must repeat.
        created_at: Epoch seconds of the login.
    """

    token: str
    agent_id: str
    csrf: str
    created_at: float


class SessionStore:
    """Console sessions in Redis, each expiring 12 hours after its last use."""

    def __init__(self, redis: Redis, keys: RedisKeys, ttl_seconds: int = SESSION_TTL_SECONDS) -> None:
        """Keeps the client.

        Args:
            redis: Client with ``decode_responses=True``.
            keys: Key builder (the session key lives under its prefix).
            ttl_seconds: Idle lifetime of a session.
        """
        self.redis = redis
        self.keys = keys
        self.ttl_seconds = ttl_seconds

    async def create(self, agent_id: str) -> Session:
        """Starts a session for an agent who just proved their password."""
        session = Session(secrets.token_urlsafe(32), agent_id, secrets.token_urlsafe(32), time.time())
        key = self.keys.session(session.token)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={
                "agent_id": session.agent_id, "csrf": session.csrf, "created_at": repr(session.created_at),
            })
            pipe.expire(key, self.ttl_seconds)
            await pipe.execute()
        return session

    async def load(self, token: str) -> Optional[Session]:
        """The session for a cookie value, refreshing its lifetime; None if unknown or expired."""
        if not token or len(token) > 128:
            return None
        key = self.keys.session(token)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(key)
            pipe.expire(key, self.ttl_seconds)
            raw, _ = await pipe.execute()
        if not raw or not raw.get("agent_id") or not raw.get("csrf"):
            return None
        return Session(token, raw["agent_id"], raw["csrf"], float(raw.get("created_at") or 0))

    async def delete(self, token: str) -> None:
        """Ends a session (logout)."""
        if token:
            await self.redis.delete(self.keys.session(token))


class LoginLimiter:
    """Counts failed logins per agent id in Redis and locks an id after too many."""

    def __init__(
        self,
        redis: Redis,
        keys: RedisKeys,
        limit: int = LOGIN_FAILURE_LIMIT,
        window_seconds: int = LOGIN_FAILURE_WINDOW_SECONDS,
    ) -> None:
        """Keeps the client.

        Args:
            redis: Client with ``decode_responses=True``.
            keys: Key builder (the counter lives under its prefix).
            limit: Failed attempts allowed within the window.
            window_seconds: How long failures are remembered (from the first).
        """
        self.redis = redis
        self.keys = keys
        self.limit = limit
        self.window_seconds = window_seconds

    def key(self, agent_id: str) -> str:
        """The counter's key (one per agent id typed, known or not)."""
        return self.keys.login_failures(agent_id)

    async def retry_after(self, agent_id: str) -> int:
        """Seconds until the id may try again; 0 when it may now."""
        key = self.key(agent_id)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.get(key)
            pipe.ttl(key)
            count, ttl = await pipe.execute()
        if int(count or 0) < self.limit:
            return 0
        return max(int(ttl), 1)

    async def failed(self, agent_id: str) -> int:
        """Records a failed attempt; returns how many there were in the window."""
        key = self.key(agent_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=self.window_seconds, nx=True)  # the window starts at the first failure
            pipe.incr(key)  # INCR keeps the expiry
            _, count = await pipe.execute()
        return int(count)

    async def reset(self, agent_id: str) -> None:
        """Forgets failures after a successful login."""
        await self.redis.delete(self.key(agent_id))
