"""The supervisor's live view: every agent's presence and load, the queue's waits, reassign and join.

``GET /console/supervisor`` (roles ``supervisor`` and ``manager``) is the page;
``console/static/supervisor.js`` fills it from ``GET /console/api/supervisor``
and refreshes it whenever the console feed (``/console/ws``, which every replica
reads whole, so no sticky sessions are needed) reports a change, and every few
seconds besides. A queue wait past the ``wait_alert_seconds`` setting is an
alert: a banner and the page's title. The supervisor can give a queued or active
chat to another agent (``POST .../chats/<cid>/reassign``), join it
(``POST .../chats/<cid>/join``), read it (``GET .../chats/<cid>/events``) and
write into it (``POST .../chats/<cid>/messages``: the customer sees the message
as from the team). Every POST needs the session's CSRF token; every action is
recorded in the event log (``handoff.supervision``).
"""

from __future__ import annotations

import math
import re
from typing import Any, Dict

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, json

from console.auth import current_agent, require_role
from console.context import state
from console.middleware import load_session, security_headers
from console.web import MAX_JSON_BYTES, jsonable, named, render, say, text_direction, ui_language
from core.errors import InvalidInput, NotFound
from edge.requests import json_object, text_field
from handoff.models import ConversationState
from handoff.supervision import Supervision

__all__ = ["ROLES", "bp", "setup_supervisor", "supervision"]

ROLES = ("supervisor", "manager")
_CID = re.compile(r"^[\w.:@+=-]{1,200}$")
_AGENT_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")

bp = Blueprint("console_supervisor", url_prefix="/console", strict_slashes=True)
bp.on_request(load_session)
bp.on_response(security_headers)


def supervision(request: Request) -> Supervision:
    """The supervisor's operations (from the composition root)."""
    return state(request).container.supervision


def _cid(request: Request, cid: str) -> str:
    if not _CID.match(cid):
        raise NotFound(say(request, "console_error_no_conversation", cid=cid[:200]))
    return cid


def _waited(request: Request, seconds: int) -> str:
    if seconds < 120:
        return say(request, "console_supervisor_waited", seconds=max(0, seconds))
    return say(request, "console_supervisor_waited_minutes", minutes=math.floor(seconds / 60))


def _labelled(request: Request, view: Dict[str, Any]) -> Dict[str, Any]:
    """The overview with what the page shows as text, in the supervisor's language."""
    for agent in view["agents"]:
        ago = agent["seen_seconds_ago"]
        agent["presence_label"] = say(request, f"console_supervisor_presence_{agent['presence']}")
        agent["seen_label"] = (say(request, "console_supervisor_seen_never") if ago is None
                               else say(request, "console_supervisor_seen_ago", seconds=max(0, ago)))
        agent["load_label"] = say(request, "console_supervisor_load", open=agent["open"], capacity=agent["capacity"])
    for row in view["queue"]:
        row["wait_label"] = _waited(request, int(row["waiting_seconds"]))
        row["language_label"] = named(request, "console_dash_language_", str(row.get("language") or ""))
        row["channel_label"] = named(request, "console_dash_channel_", str(row.get("channel") or ""))
    view["alert_label"] = (say(request, "console_supervisor_alert", count=view["alerts"],
                               wait=_waited(request, int(view["alert_seconds"]))) if view["alerts"] else "")
    view["title_alert"] = say(request, "console_supervisor_title_alert", count=view["alerts"]) if view["alerts"] else ""
    return view


@bp.get("/supervisor")
@require_role(*ROLES)
async def supervisor_page(request: Request) -> HTTPResponse:
    """The live view's page; the script fills it."""
    language = ui_language(request)
    agents = [{"id": a.agent_id, "name": a.name} for a in state(request).agents.all()
              if a.role in ("agent", "supervisor")]
    boot = {"me": current_agent(request).agent_id, "role": current_agent(request).role, "agents": agents,
            "lang": language, "dir": text_direction(language), "title": say(request, "console_supervisor_title")}
    return render(request, "console/supervisor.html", boot=boot)


@bp.get("/api/supervisor")
@require_role(*ROLES)
async def api_overview(request: Request) -> HTTPResponse:
    """Every agent with presence, last heartbeat, open chats and capacity; the queue with waits and alerts."""
    return json(jsonable(_labelled(request, await supervision(request).overview())))


@bp.post("/api/supervisor/chats/<cid>/reassign")
@require_role(*ROLES)
async def api_reassign(request: Request, cid: str) -> HTTPResponse:
    """Gives a queued or active chat to another agent.

    Raises:
        InvalidInput: ``to_agent`` is missing or malformed.
    """
    body = json_object(request, "a JSON object", max_bytes=MAX_JSON_BYTES)
    to_agent = text_field(body, "to_agent", limit=64)
    if not _AGENT_ID.match(to_agent):
        raise InvalidInput(say(request, "console_error_transfer_target"))
    conv = await supervision(request).reassign(_cid(request, cid), current_agent(request), to_agent)
    if conv.state is ConversationState.WITH_AGENT:
        text = say(request, "console_supervisor_reassigned", reference=conv.reference, agent=conv.agent_name)
    else:  # the agent has no room yet: the chat waits for them
        target = state(request).agents.get(to_agent)
        text = say(request, "console_supervisor_reserved", reference=conv.reference,
                   agent=target.name if target is not None else to_agent)
    return json({"state": conv.state.value, "agent_id": conv.agent_id, "text": text})


@bp.post("/api/supervisor/chats/<cid>/join")
@require_role(*ROLES)
async def api_join(request: Request, cid: str) -> HTTPResponse:
    """Joins an open chat (its agent gets a note); answers the conversation's events."""
    json_object(request, "a JSON object", max_bytes=MAX_JSON_BYTES, allow_empty=True)
    conv = await supervision(request).join(_cid(request, cid), current_agent(request))
    events = await state(request).store.events(conv.cid, count=1000)
    return json({"cid": conv.cid, "reference": conv.reference, "events": [e.to_json() for e in events],
                 "title": say(request, "console_supervisor_chat_title", reference=conv.reference)})


@bp.get("/api/supervisor/chats/<cid>/events")
@require_role(*ROLES)
async def api_events(request: Request, cid: str) -> HTTPResponse:
    """A chat's events after stream id ``after`` (exclusive).

    Raises:
        InvalidInput: ``after`` is not a stream id.
        NotFound: No such conversation.
    """
    store = state(request).store
    conv = await store.get(_cid(request, cid))
    if conv is None:
        raise NotFound(say(request, "console_error_no_conversation", cid=cid))
    after = request.args.get("after", "") or ""
    if after and not _STREAM_ID.match(after):
        raise InvalidInput(say(request, "console_error_after"))
    events = await store.events(conv.cid, after=after or "-", count=1000)
    return json({"events": [e.to_json() for e in events]})


@bp.post("/api/supervisor/chats/<cid>/messages")
@require_role(*ROLES)
async def api_say(request: Request, cid: str) -> HTTPResponse:
    """Writes to the customer of an open chat as the team."""
    text = text_field(json_object(request, "a JSON object", max_bytes=MAX_JSON_BYTES), "text")
    event = await supervision(request).say(_cid(request, cid), current_agent(request), text)
    return json({"event": event.to_json()}, status=201)


def setup_supervisor(app: Sanic) -> None:
    """Adds the supervisor's live view to the handoff service."""
    app.blueprint(bp)
