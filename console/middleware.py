"""Request and response middleware of the console's Blueprints.

Every console request gets its session loaded from the cookie (``request.ctx.session``;
a session whose agent is gone or whose password changed is ended); every POST
must carry that session's CSRF token; every websocket upgrade, whatever its
path, is admitted only with a session, from the console's own origin and for a
role with a desk (the websocket handler checks the same again); every response
gets the Content-Security-Policy and the other browser protections, and HSTS
when it went out over HTTPS.
"""

from __future__ import annotations

from typing import Callable, Optional
from urllib.parse import unquote, urlsplit

from sanic import Request
from sanic.response import HTTPResponse

from console.auth import (
    DESK_ROLES,
    HSTS,
    SESSION_COOKIE,
    check_csrf,
    current_session,
    is_https,
    is_websocket_upgrade,
)
from console.context import ServiceState, state
from console.sessions import password_fingerprint
from console.ui_choice import load_ui_choice
from console.web import content_security_policy, say
from core.errors import NotAllowed, NotAuthenticated

__all__ = [
    "LOGIN_PATH",
    "WS_PATH",
    "check_websocket_request",
    "fingerprint_of",
    "load_session",
    "security_headers",
]

LOGIN_PATH = "/console/login"
WS_PATH = "/console/ws"


def _is_static(request: Request) -> bool:
    return request.path.startswith(("/console/static/", "/console/lib/"))


def fingerprint_of(service: ServiceState) -> Callable[[str], Optional[str]]:
    """Agent id → the fingerprint of their password hash now (None: no such agent), for ``SessionStore.load``."""
    def fingerprint(agent_id: str) -> Optional[str]:
        agent = service.agents.get(agent_id)
        return password_fingerprint(agent.password_hash) if agent is not None else None

    return fingerprint


def check_websocket_request(request: Request) -> None:
    """Admits a websocket only with a session and from the console's own origin.

    The middleware runs it before the upgrade, so the refusal is a plain HTTP
    status; the handler runs it again, whatever path led there.

    Raises:
        NotAuthenticated: No valid session cookie.
        NotAllowed: Another origin, or a role without a desk.
    """
    session = current_session(request)
    agent = state(request).agents.get(session.agent_id) if session else None
    if session is None or agent is None:
        raise NotAuthenticated(say(request, "console_error_log_in"))
    origin = request.headers.get("origin", "")
    if not origin or urlsplit(origin).netloc.lower() != request.host.lower():
        raise NotAllowed(say(request, "console_error_ws_origin"))
    if agent.role not in DESK_ROLES:
        raise NotAllowed(say(request, "console_error_no_desk"))
    request.ctx.agent = agent


async def load_session(request: Request) -> Optional[HTTPResponse]:
    """Decodes path parameters; loads the session; checks CSRF on POST and the websocket's admission.

    Raises:
        NotAllowed: A POST without the session's CSRF token, or a websocket from another origin.
        NotAuthenticated: A websocket without a session (refused before the upgrade).
    """
    request.ctx.session = None
    if _is_static(request):
        return None
    # Sanic 21.12 passes path parameters still percent-encoded; conversation ids
    # hold ":" and "+" (``whatsapp:+972...``), which the console's script encodes.
    request.match_info = {name: unquote(value) if isinstance(value, str) else value
                          for name, value in request.match_info.items()}
    token = request.cookies.get(SESSION_COOKIE, "")
    if token:
        service = state(request)
        request.ctx.session = await service.sessions.load(token, fingerprint_of(service))
    session = current_session(request)
    request.ctx.ui_choice = await load_ui_choice(state(request), session.agent_id) if session else None
    if request.method == "POST" and request.path != LOGIN_PATH and session is not None:
        check_csrf(request, session.csrf)
    if is_websocket_upgrade(request):
        check_websocket_request(request)
    return None


async def security_headers(request: Request, response: HTTPResponse) -> None:
    """Adds the CSP and the other browser protections to every console response."""
    frame = bool(getattr(request.ctx, "mail_frame", False))
    response.headers.setdefault("Content-Security-Policy", content_security_policy(request, frame=frame))
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "no-referrer")
    response.headers.setdefault("X-Frame-Options", "SAMEORIGIN" if frame else "DENY")
    if not _is_static(request):
        response.headers.setdefault("Cache-Control", "no-store")
    if is_https(request):
        response.headers.setdefault("Strict-Transport-Security", HSTS)
