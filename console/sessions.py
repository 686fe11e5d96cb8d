"""Console sessions and the login limiter, kept in Redis.

A session is a Redis hash under ``RedisKeys.session(sha256(token))``: the
token itself (the cookie's value) is never stored, so a copy of Redis logs
nobody in. The hash holds the agent id, the session's CSRF token, the login
time and a fingerprint of the agent's password hash. A session ends after
``idle_seconds`` without use, ``max_seconds`` after the login however much it
is used, and as soon as the agent's password changes (the fingerprint no
longer matches; ``python -m kesher add-agent`` also ends them at once through
:meth:`SessionStore.end_agent_sessions`).

:class:`LoginLimiter` checks passwords. Before a password is evaluated one Lua
script counts the attempt, atomically, under three keys: the source address,
the pair (source, agent id) and the agent id. The first two make the source
wait (exponential backoff) once over their limits; the agent id's own,
much higher limit only slows its logins down, so a stranger can neither guess
at speed nor lock a real agent out from another address. At most
``LoginPolicy.hashing`` argon2 checks run at once, each in a worker thread.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import secrets
import time
from dataclasses import dataclass
from typing import Callable, Optional

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from core.redis_keys import RedisKeys
from core.settings import Settings
from handoff.agents import hash_password, password_matches
from handoff.models import Agent
from handoff.state import FEED_MAXLEN

__all__ = [
    "SESSION_IDLE_SECONDS",
    "SESSION_MAX_SECONDS",
    "LoginLimiter",
    "LoginPolicy",
    "LoginResult",
    "Session",
    "SessionStore",
    "password_fingerprint",
    "token_digest",
]

SESSION_IDLE_SECONDS = 4 * 3600
SESSION_MAX_SECONDS = 12 * 3600

Clock = Callable[[], float]
Verify = Callable[[str, str], bool]


# The feed entry that ends a session's live consoles on every replica (``console.feed``).
SESSION_ENDED = "session_ended"


def token_digest(token: str) -> str:
    """The SHA-256 (hex) of a session token: the name its session is stored under."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def password_fingerprint(password_hash: str) -> str:
    """A short digest of an agent's password hash; it changes whenever the password is set anew."""
    return hashlib.sha256(b"kesher-console-session\0" + password_hash.encode()).hexdigest()[:32]


@dataclass(frozen=True)
class Session:
    """A logged-in console session.

    Attributes:
        token: The cookie value (secret; only its digest is stored).
        agent_id: Who is logged in.
        csrf: The token every POST of this session must repeat.
        created_at: Epoch seconds of the login.
        fingerprint: :func:`password_fingerprint` of the agent's password hash at login.
    """

    token: str
    agent_id: str
    csrf: str
    created_at: float
    fingerprint: str = ""


class SessionStore:
    """Console sessions in Redis, under the digest of their token, with an idle and an absolute lifetime."""

    def __init__(
        self,
        redis: Redis,
        keys: RedisKeys,
        *,
        idle_seconds: int = SESSION_IDLE_SECONDS,
        max_seconds: int = SESSION_MAX_SECONDS,
        clock: Clock = time.time,
    ) -> None:
        """Keeps the client.

        Args:
            redis: Client with ``decode_responses=True``.
            keys: Key builder (the session key lives under its prefix).
            idle_seconds: A session ends after this long without use.
            max_seconds: A session ends this long after the login.
            clock: Epoch seconds (tests pass their own).
        """
        self.redis = redis
        self.keys = keys
        self.idle_seconds = idle_seconds
        self.max_seconds = max_seconds
        self.clock = clock

    @classmethod
    def from_settings(cls, redis: Redis, keys: RedisKeys, settings: Settings) -> SessionStore:
        """A store with the lifetimes of the ``console_session_*`` settings."""
        return cls(redis, keys, idle_seconds=settings.console_session_idle_seconds,
                   max_seconds=settings.console_session_max_seconds)

    def _ttl(self, created_at: float) -> int:
        """Seconds the session may still live idle: the idle lifetime, or less near its absolute end."""
        return max(0, min(self.idle_seconds, math.ceil(created_at + self.max_seconds - self.clock())))

    async def create(self, agent_id: str, fingerprint: str) -> Session:
        """Starts a session for an agent who just proved their password.

        Args:
            agent_id: Who logged in.
            fingerprint: :func:`password_fingerprint` of the agent's password hash.
        """
        session = Session(secrets.token_urlsafe(32), agent_id, secrets.token_urlsafe(32), self.clock(), fingerprint)
        digest = token_digest(session.token)
        key = self.keys.session(digest)
        index = self.keys.agent_sessions(agent_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={
                "agent_id": session.agent_id, "csrf": session.csrf, "created_at": repr(session.created_at),
                "fingerprint": fingerprint,
            })
            pipe.expire(key, self._ttl(session.created_at))
            pipe.sadd(index, digest)
            pipe.expire(index, self.max_seconds)
            await pipe.execute()
        return session

    async def load(self, token: str, fingerprint_of: Optional[Callable[[str], Optional[str]]] = None
                   ) -> Optional[Session]:
        """The session for a cookie value, refreshing its idle lifetime; None if unknown or ended.

        Args:
            token: The cookie's value.
            fingerprint_of: Agent id → the fingerprint of their current password hash (None: no such
                agent). A session whose fingerprint differs is ended: the password changed.
        """
        if not token or len(token) > 128:
            return None
        key = self.keys.session(token_digest(token))
        raw = await self.redis.hgetall(key)
        if not raw or not raw.get("agent_id") or not raw.get("csrf"):
            return None
        try:
            created_at = float(raw.get("created_at") or "")
        except ValueError:
            created_at = 0.0
        session = Session(token, raw["agent_id"], raw["csrf"], created_at, raw.get("fingerprint", ""))
        ttl = self._ttl(created_at)
        current = fingerprint_of(session.agent_id) if fingerprint_of is not None else session.fingerprint
        if ttl <= 0 or current is None or not secrets.compare_digest(current, session.fingerprint):
            await self.delete(token)
            return None
        await self.redis.expire(key, ttl)
        return session

    async def delete(self, token: str) -> None:
        """Ends a session (logout)."""
        if not token:
            return
        digest = token_digest(token)
        key = self.keys.session(digest)
        agent_id = await self.redis.hget(key, "agent_id")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            if agent_id:
                pipe.srem(self.keys.agent_sessions(str(agent_id)), digest)
            self._announce_end(pipe, digest)
            await pipe.execute()

    async def end_agent_sessions(self, agent_id: str) -> int:
        """Ends every session of an agent (their password changed); returns how many were open."""
        index = self.keys.agent_sessions(agent_id)
        digests = list(await self.redis.smembers(index))
        async with self.redis.pipeline(transaction=True) as pipe:
            for digest in digests:
                pipe.delete(self.keys.session(str(digest)))
            pipe.delete(index)
            for digest in digests:
                self._announce_end(pipe, str(digest))
            results = await pipe.execute()
        return sum(int(n) for n in results[: len(digests)])

    def _announce_end(self, pipe: Pipeline, digest: str) -> None:
        """Tells every handoff service replica, through the feed, to close the session's consoles now."""
        pipe.xadd(self.keys.feed(), {"cid": "", "kind": SESSION_ENDED, "session": digest},
                  maxlen=FEED_MAXLEN, approximate=True)


# -- logins ------------------------------------------------------------------------------
@dataclass(frozen=True)
class LoginPolicy:
    """How many login attempts are allowed, and what happens after.

    Attributes:
        pair_limit: Attempts for one agent id from one source before that pair must wait.
        source_limit: Attempts from one source (any agent ids) before it must wait.
        account_limit: Attempts for one agent id from anywhere before each further one is slowed down.
        window_seconds: Attempts are forgotten this long after the last one (plus any wait).
        backoff_seconds: The first wait of a source or pair over its limit; it doubles with each attempt.
        max_backoff_seconds: The longest wait.
        slowdown_seconds: The first delay of an agent id over its limit; it doubles, never refuses.
        max_slowdown_seconds: The longest delay.
        hashing: Password checks (argon2) running at once in this process.
        hashing_wait_seconds: How long a login waits for a free check before it is told to retry.
    """

    pair_limit: int = 5
    source_limit: int = 20
    account_limit: int = 100
    window_seconds: int = 15 * 60
    backoff_seconds: float = 60.0
    max_backoff_seconds: float = 3600.0
    slowdown_seconds: float = 0.5
    max_slowdown_seconds: float = 8.0
    hashing: int = 2
    hashing_wait_seconds: float = 10.0


@dataclass(frozen=True)
class LoginResult:
    """What became of one login attempt.

    Attributes:
        ok: The password matches a known agent's.
        retry_after: Seconds to wait; > 0 when the password was not even checked.
        attempts_left: Further failures this agent id may have from this source before it waits.
        per_source: The wait (``retry_after`` or ``locked_for``) is the source's (many agent ids), not the pair's.
        busy: Too many password checks were running; nothing was counted.
        locked_for: After a wrong password: seconds this source (or pair) must now wait (0: none).
    """

    ok: bool
    retry_after: int = 0
    attempts_left: int = 0
    per_source: bool = False
    busy: bool = False
    locked_for: int = 0


# Counts an attempt under KEYS = (source, pair, account) before its password is checked, atomically:
# N concurrent attempts count as N. A source or pair still waiting is refused ({0, wait_ms, which}).
# Otherwise each count goes up; a source or pair reaching its limit must wait backoff * 2^(n - limit),
# an account past its limit only delays this attempt ({1, delay_ms, attempts_left, longest wait set, whose}).
# ARGV: now_ms, source_limit, pair_limit, account_limit, window_ms, backoff_ms, max_backoff_ms,
#       slowdown_ms, max_slowdown_ms.
_ADMIT = """
local now = tonumber(ARGV[1])
local limits = {tonumber(ARGV[2]), tonumber(ARGV[3]), tonumber(ARGV[4])}
local window = tonumber(ARGV[5])
local wait, which = 0, 0
for i = 1, 2 do
  local held = redis.call('HMGET', KEYS[i], 'until', 'hold')
  local left = (tonumber(held[1] or '0') or 0) - now
  local hold = tonumber(held[2] or '0') or 0
  -- never more than the hold itself: this attempt's clock may have been read before the hold began
  if hold > 0 and left > hold then left = hold end
  if left > wait then wait, which = left, i end
end
if wait > 0 then return {0, wait, which, 0, 0} end
local delay, left, held, held_by = 0, 0, 0, 0
for i = 1, 3 do
  local n = redis.call('HINCRBY', KEYS[i], 'n', 1)
  local hold = 0
  if i < 3 and n >= limits[i] then
    hold = math.floor(math.min(tonumber(ARGV[6]) * 2 ^ (n - limits[i]), tonumber(ARGV[7])))
    redis.call('HSET', KEYS[i], 'until', now + hold, 'hold', hold)
    if hold > held then held, held_by = hold, i end
  elseif i == 3 and n > limits[i] then
    delay = math.floor(math.min(tonumber(ARGV[8]) * 2 ^ (n - limits[i] - 1), tonumber(ARGV[9])))
  end
  redis.call('PEXPIRE', KEYS[i], window + hold)
  if i == 2 then left = limits[i] - n end
end
return {1, delay, left, held, held_by}
"""

# Takes back an attempt that proved the password (or was never checked): after a success the pair
# is forgotten; the other counts lose one, and a source or pair back under its limit waits no more.
# KEYS = (source, pair, account); ARGV: source_limit, pair_limit, success (1 or 0).
_RELEASE = """
if ARGV[3] == '1' then redis.call('DEL', KEYS[2]) end
local limits = {tonumber(ARGV[1]), tonumber(ARGV[2]), 0}
for i = 1, 3 do
  if redis.call('EXISTS', KEYS[i]) == 1 then
    local n = redis.call('HINCRBY', KEYS[i], 'n', -1)
    if n <= 0 then redis.call('DEL', KEYS[i])
    elseif i < 3 and n < limits[i] then redis.call('HDEL', KEYS[i], 'until', 'hold') end
  end
end
return 1
"""


class LoginLimiter:
    """Checks login passwords under per-source, per-pair and per-account limits (see the module docstring)."""

    def __init__(
        self,
        redis: Redis,
        keys: RedisKeys,
        policy: Optional[LoginPolicy] = None,
        *,
        verify: Verify = password_matches,
        clock: Clock = time.time,
    ) -> None:
        """Keeps the client; starts nothing.

        Args:
            redis: Client with ``decode_responses=True``.
            keys: Key builder (the counters live under its prefix).
            policy: The limits (default: :class:`LoginPolicy`'s).
            verify: ``(argon2 hash, password) -> bool``, run in a worker thread (tests count the calls).
            clock: Epoch seconds (tests pass their own).
        """
        self.redis = redis
        self.keys = keys
        self.policy = policy or LoginPolicy()
        self.verify = verify
        self.clock = clock
        self._hashing = asyncio.Semaphore(self.policy.hashing)
        self._admit = redis.register_script(_ADMIT)
        self._release = redis.register_script(_RELEASE)
        self._dummy_hash: Optional[str] = None

    def _keys(self, source: str, agent_id: str) -> list[str]:
        return [self.keys.login_source(source), self.keys.login_pair(source, agent_id),
                self.keys.login_account(agent_id)]

    async def attempt(self, source: str, agent_id: str, agent: Optional[Agent], password: str) -> LoginResult:
        """Counts one login attempt, then (if admitted) checks the password off the event loop.

        An unknown agent (None) or one without a hash is checked against a dummy hash,
        so the answer takes as long as for a real one.

        Args:
            source: Where the attempt comes from (:func:`console.auth.client_address`).
            agent_id: The id typed.
            agent: The agent of that id, or None.
            password: What was typed.
        """
        policy = self.policy
        keys = self._keys(source, agent_id)
        admitted, wait_ms, extra, held_ms, held_by = (int(x) for x in await self._admit(keys=keys, args=[
            int(self.clock() * 1000), policy.source_limit, policy.pair_limit, policy.account_limit,
            policy.window_seconds * 1000, int(policy.backoff_seconds * 1000),
            int(policy.max_backoff_seconds * 1000), int(policy.slowdown_seconds * 1000),
            int(policy.max_slowdown_seconds * 1000),
        ]))
        if not admitted:
            return LoginResult(False, retry_after=max(1, math.ceil(wait_ms / 1000)), per_source=extra == 1)
        if wait_ms:  # the agent id is being guessed from many places: slow down, never refuse
            await asyncio.sleep(wait_ms / 1000)
        try:
            ok = await self._check(agent, password)
        except TimeoutError:
            await self._release(keys=keys, args=[policy.source_limit, policy.pair_limit, 0])
            return LoginResult(False, retry_after=1, busy=True)
        if ok:
            await self._release(keys=keys, args=[policy.source_limit, policy.pair_limit, 1])
            return LoginResult(True)
        return LoginResult(False, attempts_left=max(0, extra), locked_for=math.ceil(held_ms / 1000),
                           per_source=held_by == 1)

    async def _check(self, agent: Optional[Agent], password: str) -> bool:
        """The argon2 check, at most ``policy.hashing`` at once, in a worker thread.

        Raises:
            TimeoutError: No check became free within ``policy.hashing_wait_seconds``.
        """
        loop = asyncio.get_running_loop()
        real = bool(agent and agent.password_hash)
        async with asyncio.timeout(self.policy.hashing_wait_seconds):
            await self._hashing.acquire()
        try:
            if agent is not None and real:
                stored = agent.password_hash
            else:
                if self._dummy_hash is None:
                    self._dummy_hash = await loop.run_in_executor(None, hash_password, secrets.token_hex(16))
                stored = self._dummy_hash
            ok = await loop.run_in_executor(None, self.verify, stored, password)
        finally:
            self._hashing.release()
        return bool(ok) and real
