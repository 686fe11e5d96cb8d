"""Who is asking the console: password checks, cookies, CSRF tokens, roles.

The session token (``console.sessions``) travels in an HttpOnly,
SameSite=Strict cookie. Every POST to the console must repeat the session's
CSRF token (``X-CSRF-Token`` header or a ``csrf_token`` form field). The login
form, which has no session yet, uses a double-submit token: a random cookie
that the form repeats. :func:`require_role` guards each handler.
"""

from __future__ import annotations

import asyncio
import hmac
import ipaddress
import secrets
from functools import wraps
from typing import Any, Awaitable, Callable, Optional, TypeVar

from sanic import Request
from sanic.response import HTTPResponse, redirect

from console.context import state
from console.sessions import Session
from console.web import render, say
from core.errors import NotAllowed, NotAuthenticated
from handoff.agents import ROLES, hash_password, password_matches
from handoff.models import Agent

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "DESK_ROLES",
    "LOGIN_CSRF_COOKIE",
    "SESSION_COOKIE",
    "check_csrf",
    "clear_cookie",
    "cookie_secure",
    "current_agent",
    "current_session",
    "require_role",
    "set_cookie",
    "verify_password",
]

SESSION_COOKIE = "kesher_session"
LOGIN_CSRF_COOKIE = "kesher_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
LOGIN_PATH = "/console/login"
DESK_ROLES = ("agent", "supervisor")

_DUMMY_HASH: Optional[str] = None

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[HTTPResponse]])


# -- passwords -----------------------------------------------------------------
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
    ok = await loop.run_in_executor(None, password_matches, stored, password)
    return ok and real


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

    The ``cookie_secure`` setting is ``1``, ``0`` or ``auto`` (the default):
    secure unless the console is reached over plain HTTP on a loopback address.
    """
    mode = state(request).settings.cookie_secure
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
        NotAllowed: The token is missing or wrong.
    """
    given = request.headers.get(CSRF_HEADER) or _form_value(request, CSRF_FIELD)
    if not expected or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        raise NotAllowed(say(request, "console_error_csrf"))


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
            agent = state(request).agents.get(session.agent_id) if session else None
            if session is None or agent is None:
                if _wants_json(request):
                    raise NotAuthenticated(say(request, "console_error_log_in"))
                return redirect(LOGIN_PATH)
            request.ctx.agent = agent
            if roles and agent.role not in roles:
                if _wants_json(request):
                    role = say(request, f"console_role_{agent.role}")
                    raise NotAllowed(say(request, "console_error_role", role=role))
                return render(request, "console/forbidden.html", status=403, role=agent.role)
            return await handler(request, *args, **kwargs)

        return guarded  # type: ignore[return-value]

    return decorate
