"""Who is asking the console: password checks, cookies, CSRF tokens, roles.

The session token (``console.sessions``) travels in an HttpOnly,
SameSite=Strict cookie. Every POST to the console must repeat the session's
CSRF token (``X-CSRF-Token`` header or a ``csrf_token`` form field). The login
form, which has no session yet, uses a double-submit token: a random cookie
that the form repeats. :func:`require_role` guards each handler.

The handoff service listens on loopback; a request whose peer is a loopback
address is taken to come through the front door (the TLS proxy), whose
``X-Forwarded-For`` and ``X-Forwarded-Proto`` then say who asked and how
(:func:`client_address`, :func:`is_https`). The Host header decides nothing.
"""

from __future__ import annotations

import ipaddress
from functools import wraps
from typing import Any, Awaitable, Callable, Optional, TypeVar

from sanic import Request
from sanic.response import HTTPResponse, redirect

from console.context import state
from console.sessions import Session
from console.web import render, say
from core.errors import NotAllowed, NotAuthenticated
from edge.requests import same_secret
from handoff.agents import ROLES
from handoff.models import Agent

__all__ = [
    "CSRF_FIELD",
    "CSRF_HEADER",
    "DESK_ROLES",
    "HSTS",
    "LOGIN_CSRF_COOKIE",
    "SESSION_COOKIE",
    "check_csrf",
    "clear_cookie",
    "client_address",
    "cookie_secure",
    "current_agent",
    "current_session",
    "is_https",
    "is_websocket_upgrade",
    "require_role",
    "set_cookie",
]

SESSION_COOKIE = "kesher_session"
LOGIN_CSRF_COOKIE = "kesher_login_csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
LOGIN_PATH = "/console/login"
DESK_ROLES = ("agent", "supervisor")
HSTS = "max-age=31536000"

Handler = TypeVar("Handler", bound=Callable[..., Awaitable[HTTPResponse]])


# -- who is on the other end ------------------------------------------------------------
def _address(text: str) -> Optional[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


def _via_front_door(request: Request) -> bool:
    """Whether the peer is a loopback address: the front door (or someone on this machine)."""
    peer = _address(str(request.ip or ""))
    return peer is not None and peer.is_loopback


def client_address(request: Request) -> str:
    """Where a request comes from, for rate limits: an IPv4 address or an IPv6 /64 network.

    The peer's address, except behind the front door (a loopback peer), where it is
    the last address the proxy appended to ``X-Forwarded-For``. An IPv6 client is
    counted by its /64, which one subscriber usually holds whole.
    """
    peer = str(request.ip or "")
    if _via_front_door(request):
        forwarded = request.headers.get("x-forwarded-for", "").split(",")[-1].strip()
        if _address(forwarded) is not None:
            peer = forwarded
    address = _address(peer)
    if address is None:
        return peer[:64] or "unknown"
    if address.version == 6:
        return str(ipaddress.ip_network(f"{address}/64", strict=False))
    return str(address)


def is_https(request: Request) -> bool:
    """Whether the browser reached the console over HTTPS (directly, or through the front door)."""
    if request.scheme in ("https", "wss"):
        return True
    forwarded = request.headers.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
    return _via_front_door(request) and forwarded in ("https", "wss")


# -- cookies and CSRF ------------------------------------------------------------
def cookie_secure(request: Request) -> bool:
    """Whether cookies get the ``Secure`` flag.

    The ``cookie_secure`` setting is ``1``, ``0`` or ``auto`` (the default):
    secure whenever a public URL is configured or the request came over HTTPS
    (:func:`is_https`); only a console reached over plain HTTP on loopback, with no
    public URL, sets cookies without it. The Host header plays no part.
    """
    settings = state(request).settings
    mode = settings.cookie_secure
    if mode in ("1", "true", "yes"):
        return True
    if mode in ("0", "false", "no"):
        return False
    return bool(settings.public_url.strip()) or is_https(request)


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


def clear_cookie(response: HTTPResponse, request: Request, name: str) -> None:
    """Tells the browser to drop a console cookie (same path and flags as :func:`set_cookie`)."""
    del response.cookies[name]
    cookie = response.cookies[name]
    cookie["path"] = "/console"
    cookie["httponly"] = True
    cookie["samesite"] = "Strict"
    if cookie_secure(request):
        cookie["secure"] = True


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
    if not expected or not given or not same_secret(given, expected):
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


def is_websocket_upgrade(request: Request) -> bool:
    """Whether the request asks to become a websocket (whatever its path)."""
    return request.headers.get("upgrade", "").strip().lower() == "websocket"


def _wants_json(request: Request) -> bool:
    return request.path.startswith("/console/api/") or is_websocket_upgrade(request) or (
        "application/json" in request.headers.get("accept", "") and "text/html" not in request.headers.get("accept", "")
    )


def require_role(*roles: str) -> Callable[[Handler], Handler]:
    """Guards a console handler: a session is needed, and one of ``roles`` (any role when none given).

    Without a session a page redirects to the login form and an API call (or a
    websocket) gets 401; with a role not listed the answer is 403.

    Args:
        roles: Roles allowed (``agent``, ``supervisor``, ``writer``, ``manager``).

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
