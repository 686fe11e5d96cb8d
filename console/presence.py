"""The console's side of presence: heartbeats, why a chat left, and the away sweeper while the server runs.

``POST /console/api/heartbeat`` (a desk role, the session's CSRF token) records
that the agent's console is open (``handoff.presence.PresenceKeeper.touch``; an
agent the sweeper made away is online again) and answers the agent's presence,
when to beat next, and the chats taken from them since ``after`` with why, in
the agent's language (``console/static/presence.js`` shows them on the desk).
The console's websocket (``console.live``) touches the same time while it is
open, and so does any successful request of the desk's API by an agent.
``setup_presence(app)`` adds the route and runs the sweeper.
"""

from __future__ import annotations

import asyncio
from typing import Any, Dict

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, json

from console.auth import DESK_ROLES, current_agent, require_role
from console.context import state
from console.middleware import load_session, security_headers
from console.web import say
from core.errors import InvalidInput
from edge.requests import json_object
from handoff.presence import PresenceKeeper

__all__ = ["bp", "moved_notice", "setup_presence"]

bp = Blueprint("console_presence", url_prefix="/console", strict_slashes=True)
bp.on_request(load_session)
bp.on_response(security_headers)


def moved_notice(request: Request, moved: Dict[str, Any]) -> str:
    """Why a chat left its agent, in the agent's language."""
    agent = state(request).agents.get(str(moved.get("to_agent", "")))
    name = agent.name if agent is not None else str(moved.get("to_agent", ""))
    if moved.get("reason") == "agent_silent":
        key = "console_presence_moved_silent" if moved.get("to_agent") else "console_presence_requeued_silent"
        return say(request, key, reference=str(moved.get("reference", "")), agent=name,
                   minutes=max(1, int(moved.get("minutes") or 1)))
    return say(request, "console_presence_moved_supervisor", reference=str(moved.get("reference", "")), agent=name)


def _keeper(request: Request) -> PresenceKeeper:
    return state(request).container.presence


@bp.post("/api/heartbeat")
@require_role(*DESK_ROLES)
async def api_heartbeat(request: Request) -> HTTPResponse:
    """Records the console's heartbeat; answers presence, the next beat and the chats moved since ``after``.

    Raises:
        InvalidInput: ``after`` is not a number of epoch seconds.
    """
    body = json_object(request, "a JSON object", max_bytes=4096, allow_empty=True)
    after = body.get("after", 0)
    if isinstance(after, bool) or not isinstance(after, (int, float)) or not 0 <= after < 1e11:
        raise InvalidInput(say(request, "console_error_after"))
    keeper = _keeper(request)
    agent = current_agent(request)
    presence = await keeper.touch(agent)
    # Read the clock before the list: a chat moved while the list is read is then after ``server_time``,
    # and the next beat (``after`` = this ``server_time``) brings it.
    now = keeper.desk.clock()
    moved = await keeper.moved_from(agent.agent_id, float(after))
    return json({
        "presence": presence,
        "next_seconds": keeper.touch_seconds,
        "server_time": now,
        "moved": [{**m, "text": moved_notice(request, m)} for m in moved],
    })


async def _api_use_is_a_heartbeat(request: Request, response: HTTPResponse) -> None:
    """An agent using the desk's API (a console, or a script of theirs) is there: it counts as a heartbeat."""
    agent = getattr(request.ctx, "agent", None)
    if (agent is not None and agent.role in DESK_ROLES and response.status < 400
            and request.path.startswith("/console/api/") and request.path != "/console/api/heartbeat"):
        await _keeper(request).touch(agent)


def setup_presence(app: Sanic) -> None:
    """Adds the heartbeat route, counts the desk API's use as heartbeats and runs the sweeper."""
    app.blueprint(bp)
    app.on_response(_api_use_is_a_heartbeat)

    @app.after_server_start
    async def _start_sweeper(app: Sanic, _loop: Any) -> None:
        service = state(app)
        service.tasks.append(asyncio.create_task(service.container.presence.run(service.stop),
                                                 name="kesher-presence"))
