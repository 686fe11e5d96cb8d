"""Request and response middleware of the console's Blueprints.

Every console request gets its session loaded from the cookie (``request.ctx.session``);
every POST must carry that session's CSRF token; the websocket is admitted
only with a session, from the console's own origin and for a role with a desk;
every response gets the Content-Security-Policy and the other browser protections.
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import unquote, urlsplit

from sanic import Request
from sanic.response import HTTPResponse

from console.auth import DESK_ROLES, SESSION_COOKIE, check_csrf, current_session
from console.context import state
from console.web import content_security_policy, say
from core.errors import NotAllowed, NotAuthenticated

__all__ = ["LOGIN_PATH", "WS_PATH", "check_websocket_request", "load_session", "security_headers"]

LOGIN_PATH = "/console/login"
WS_PATH = "/console/ws"


def _is_static(request: Request) -> bool:
    return request.path.startswith(("/console/static/", "/console/lib/"))


def check_websocket_request(request: Request) -> None:
    """Admits a websocket upgrade only with a session and from the console's own origin.

    Runs before the upgrade, so the refusal is a plain HTTP status.

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
        request.ctx.session = await state(request).sessions.load(token)
    session = current_session(request)
    if request.method == "POST" and request.path != LOGIN_PATH and session is not None:
        check_csrf(request, session.csrf)
    if request.path == WS_PATH:
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
