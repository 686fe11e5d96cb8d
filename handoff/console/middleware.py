"""Request and response middleware of the console's Blueprints.

Every console request gets its session loaded from the cookie (``request.ctx.session``);
every POST must carry that session's CSRF token; the websocket is admitted
only with a session and from the console's own origin; every response gets
the Content-Security-Policy and the other browser protections.
"""

from __future__ import annotations

from typing import Optional
from urllib.parse import unquote

from sanic import Request
from sanic.response import HTTPResponse

from handoff.console.auth import SESSION_COOKIE, SessionStore, check_csrf, current_session
from handoff.console.web import content_security_policy

__all__ = ["load_session", "security_headers"]

LOGIN_PATH = "/console/login"
WS_PATH = "/console/ws"


def _is_static(request: Request) -> bool:
    return request.path.startswith("/console/static/")


async def load_session(request: Request) -> Optional[HTTPResponse]:
    """Decodes path parameters; loads the session; checks CSRF on POST and the websocket's origin.

    Raises:
        Forbidden: A POST without the session's CSRF token, or a websocket from another origin.
        Unauthorized: A websocket without a session (refused before the upgrade).
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
        sessions: SessionStore = request.app.ctx.console_sessions
        request.ctx.session = await sessions.load(token)
    session = current_session(request)
    if request.method == "POST" and request.path != LOGIN_PATH and session is not None:
        check_csrf(request, session.csrf)
    if request.path == WS_PATH:
        from handoff.console.live import check_websocket_request

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
