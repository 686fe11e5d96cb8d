"""Console login: argon2 passwords, Redis sessions, CSRF tokens, roles.

A session is a Redis hash under ``RedisKeys.session(token)`` holding the agent
id and the session's CSRF token; the token travels in an HttpOnly,
SameSite=Strict cookie and the session lives 12 hours from its last use. Every
POST to the console must repeat the CSRF token (``X-CSRF-Token`` header or a
``csrf_token`` form field). The login form, which has no session yet, uses a
double-submit token: a random cookie that the form repeats.

Failed logins are counted per agent id in Redis; after five within five
minutes that id is locked until the window passes.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import os
import secrets
import time
from dataclasses import dataclass
from functools import wraps
from typing import Any, Awaitable, Callable, Optional, TypeVar

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from redis.asyncio import Redis
from sanic import Request
from sanic.response import HTTPResponse, redirect

from handoff.console.web import render
from handoff.errors import Forbidden, Unauthorized
from handoff.models import Agent
from handoff.redis_keys import RedisKeys

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "LOGIN_CSRF_COOKIE",
    "ROLES",
    "SESSION_COOKIE",
    "SESSION_TTL_SECONDS",
    "LoginLimiter",
    "Session",
    "SessionStore",
    "check_csrf",
    "clear_cookie",
    "cookie_secure",
    "current_agent",
    "current_session",
    "hash_password",
    "require_role",
    "set_cookie",
    "verify_password",
]

SESSION_COOKIE = "kesher_session"
LOGIN_CSRF_COOKIE = "kesher_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SESSION_TTL_SECONDS = 12 * 3600
LOGIN_FAILURE_LIMIT = 5
LOGIN_FAILURE_WINDOW_SECONDS = 5 * 60
ROLES = ("agent", "supervisor", "writer")
LOGIN_PATH = "/console/login"

_HASHER = PasswordHasher()
_DUMMY_HASH: Optional[str] = None

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[HTTPResponse]])


# -- passwords -----------------------------------------------------------------
def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` with the library's default cost."""
    return _HASHER.hash(password)


def _verify(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


async def verify_password(agent: Optional[Agent], password: str) -> bool:
    """Checks a password against the agent's argon2 hash, off the event loop.

    An unknown agent (None) or an agent without a hash is checked against a
    dummy hash, so the answer takes as long as for a real one.

    Args:
        agent: The agent the login names, or None if there is no such agent.
        password: What was typed.

    Returns:
        True only for a known agent with a matching password.
    """
    global _DUMMY_HASH
    if _DUMMY_HASH is None:
        _DUMMY_HASH = hash_password(secrets.token_hex(16))
    real = bool(agent and agent.password_hash)
    stored = agent.password_hash if agent and real else _DUMMY_HASH
    loop = asyncio.get_running_loop()
    ok = await loop.run_in_executor(None, _verify, stored, password)
    return ok and real


# -- sessions ------------------------------------------------------------------
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


# -- cookies and CSRF ------------------------------------------------------------
def _is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if host.count(":") == 1 else host
    name = name.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def cookie_secure(request: Request) -> bool:
    """Whether cookies get the ``Secure`` flag.

    ``KESHER_COOKIE_SECURE`` (read into ``app.config.CONSOLE_COOKIE_SECURE``)
    is ``1``, ``0`` or ``auto`` (the default): secure unless the console is
    reached over plain HTTP on a loopback address.
    """
    mode = str(request.app.config.get("CONSOLE_COOKIE_SECURE", os.environ.get("KESHER_COOKIE_SECURE", "auto")))
    if mode.lower() in ("1", "true", "yes"):
        return True
    if mode.lower() in ("0", "false", "no"):
        return False
    return request.scheme in ("https", "wss") or not _is_loopback(request.host)


def set_cookie(response: HTTPResponse, request: Request, name: str, value: str, max_age: int) -> None:
    """Sets an HttpOnly, SameSite=Strict cookie for the console's paths."""
    response.cookies[name] = value
    cookie = response.cookies[name]
    cookie["path"] = "/console"
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    cookie["max-age"] = max_age
    if cookie_secure(request):
        cookie["secure"] = True


def clear_cookie(response: HTTPResponse, name: str) -> None:
    """Tells the browser to drop a console cookie (same path as :func:`set_cookie`)."""
    del response.cookies[name]
    cookie = response.cookies[name]
    cookie["path"] = "/console"
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"


def _form_value(request: Request, name: str) -> str:
    form = request.form if request.content_type.startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ) else None
    value = form.get(name) if form else None
    return str(value or "")


def check_csrf(request: Request, expected: str) -> None:
    """Requires the request to repeat ``expected`` in the header or the form.

    Raises:
        Forbidden: The token is missing or wrong.
    """
    given = request.headers.get(CSRF_HEADER) or _form_value(request, CSRF_FIELD)
    if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise Forbidden("missing or invalid CSRF token; reload the page")


# -- who is asking -----------------------------------------------------------------
def current_session(request: Request) -> Optional[Session]:
    """The request's session, as the console's middleware loaded it."""
    session: Optional[Session] = getattr(request.ctx, "session", None)
    return session


def current_agent(request: Request) -> Agent:
    """The logged-in agent (only inside handlers guarded by :func:`require_role`)."""
    agent: Agent = request.ctx.agent
    return agent


def _wants_json(request: Request) -> bool:
    return request.path.startswith("/console/api/") or request.path == "/console/ws" or (
        "application/json" in request.headers.get("accept", "") and "text/html" not in request.headers.get("accept", "")
    )


def require_role(*roles: str) -> Callable[[Handler], Handler]:
    """Guards a console handler: a session is needed, and one of ``roles`` (any role when none given).

    Without a session a page redirects to the login form and an API call (or a
    websocket) gets 401; with a role not listed the answer is 403.

    Args:
        roles: Roles allowed (``agent``, ``supervisor``, ``writer``).

    Returns:
        A decorator for Sanic handlers ``(request, ...) -> HTTPResponse``.
    """
    unknown = set(roles) - set(ROLES)
    if unknown:
        raise ValueError(f"unknown roles {sorted(unknown)}")

    def decorate(handler: Handler) -> Handler:
        @wraps(handler)
        async def guarded(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
            session = current_session(request)
            agent = request.app.ctx.agents.get(session.agent_id) if session else None
            if session is None or agent is None:
                if _wants_json(request):
                    raise Unauthorized("log in first")
                return redirect(LOGIN_PATH)
            request.ctx.agent = agent
            if roles and agent.role not in roles:
                if _wants_json(request):
                    raise Forbidden(f"the {agent.role} role may not use this")
                return render(request, "console/forbidden.html", status=403, role=agent.role)
            return await handler(request, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate
