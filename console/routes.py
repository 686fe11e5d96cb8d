"""The agent console's pages and JSON API, on one Blueprint under ``/console``.

Pages: ``/console/login``, ``/console`` (the desk), ``/console/mail``. The API
under ``/console/api`` answers JSON; errors are :class:`core.errors.KesherError`
subclasses, which the app maps to a status and a message (a text of the catalog
in the agent's UI language). Every POST needs the session's CSRF token (checked
in the Blueprint's request middleware). Every JSON body is read by
:func:`json_body`, through the edge's one reader (``edge.requests``: size,
nesting and shape checked, a 4xx with the reason otherwise).
"""

from __future__ import annotations

import logging
import math
import re
import secrets
import time
from typing import Any, Dict, Optional

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, empty, json, redirect

from console.auth import (
    DESK_ROLES,
    LOGIN_CSRF_COOKIE,
    SESSION_COOKIE,
    check_csrf,
    clear_cookie,
    client_address,
    current_agent,
    current_session,
    require_role,
    set_cookie,
)
from console.context import state
from console.middleware import load_session, security_headers
from console.previews import last_messages
from console.sessions import password_fingerprint
from console.web import MAX_JSON_BYTES, STATIC_DIR, jsonable, render, say, text_direction, ui_language
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from edge.browser import MESSAGE_FORMAT_JS
from edge.requests import json_object, text_field
from handoff.models import Agent, Conversation, ConversationState
from handoff.rasa_client import RasaUnavailable

__all__ = ["bp", "conversation_json", "load_conversation"]

log = logging.getLogger(__name__)

bp = Blueprint("console", url_prefix="/console", strict_slashes=False)
bp.on_request(load_session)
bp.on_response(security_headers)
bp.static("/static", str(STATIC_DIR), name="static")
bp.static("/lib/message-format.js", str(MESSAGE_FORMAT_JS), name="message_format")

_CID = re.compile(r"^[\w.:@+=-]{1,200}$")
_STREAM_ID = re.compile(r"^\d{1,20}-\d{1,20}$")
_AGENT_ID = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
LOGIN_COOKIE_SECONDS = 3600


def json_body(request: Request) -> Dict[str, Any]:
    """The request's JSON object body ({} when empty; at most 64 KiB)."""
    return json_object(request, "a JSON object", max_bytes=MAX_JSON_BYTES, allow_empty=True)


# -- login ---------------------------------------------------------------------------
def _login_page(request: Request, *, error: str = "", agent_id: str = "", status: int = 200) -> HTTPResponse:
    token = secrets.token_urlsafe(24)
    response = render(request, "console/login.html", status=status, error=error, agent_id=agent_id,
                      login_csrf=token)
    set_cookie(response, request, LOGIN_CSRF_COOKIE, token, LOGIN_COOKIE_SECONDS)
    return response


def _refused(request: Request, agent_id: str, seconds: int, *, per_source: bool, status: int) -> HTTPResponse:
    """The login form saying how long to wait (``Retry-After`` too): for this agent id, or for this address."""
    minutes = max(1, math.ceil(seconds / 60))
    if per_source:
        error = say(request, "console_login_throttled", minutes=minutes)
    else:
        error = say(request, "console_login_locked", agent_id=agent_id, minutes=minutes)
    response = _login_page(request, agent_id=agent_id, status=status, error=error)
    response.headers["Retry-After"] = str(seconds)
    return response


@bp.get("/login")
async def login_form(request: Request) -> HTTPResponse:
    """The login form (or the desk, for someone logged in already)."""
    if current_session(request) is not None:
        return redirect("/console")
    return _login_page(request)


@bp.post("/login")
async def login(request: Request) -> HTTPResponse:
    """Checks id and password, starts a session and sets its cookie.

    Raises:
        NotAllowed: The form's CSRF token does not match its cookie.
    """
    check_csrf(request, request.cookies.get(LOGIN_CSRF_COOKIE, ""))
    form = request.form or {}
    agent_id = str(form.get("agent_id") or "").strip()
    password = str(form.get("password") or "")
    if not agent_id or not password:
        return _login_page(request, error=say(request, "console_login_missing"), agent_id=agent_id, status=400)
    if len(agent_id) > 64 or len(password) > 1024:
        return _login_page(request, error=say(request, "console_login_wrong"), status=401)
    service = state(request)
    agent: Optional[Agent] = service.agents.get(agent_id)
    result = await service.limiter.attempt(client_address(request), agent_id, agent, password)
    if result.busy:
        response = _login_page(request, agent_id=agent_id, status=503, error=say(request, "console_login_busy"))
        response.headers["Retry-After"] = str(result.retry_after)
        return response
    if result.retry_after:
        return _refused(request, agent_id, result.retry_after, per_source=result.per_source, status=429)
    if not result.ok or agent is None:
        if result.locked_for:
            return _refused(request, agent_id, result.locked_for, per_source=result.per_source, status=401)
        message = say(request, "console_login_wrong")
        if 0 < result.attempts_left <= 2:
            message += " " + say(request, "console_login_attempts_left", attempts=result.attempts_left)
        return _login_page(request, error=message, agent_id=agent_id, status=401)
    sessions = service.sessions
    old = request.cookies.get(SESSION_COOKIE, "")
    if old:
        await sessions.delete(old)
    session = await sessions.create(agent.agent_id, password_fingerprint(agent.password_hash))
    log.info("console login: %s", agent.agent_id)
    response = redirect("/console", status=303)
    set_cookie(response, request, SESSION_COOKIE, session.token, sessions.max_seconds)
    clear_cookie(response, request, LOGIN_CSRF_COOKIE)
    return response


@bp.post("/logout")
@require_role()
async def logout(request: Request) -> HTTPResponse:
    """Ends the session (and the agent's live connections) and goes back to the login form."""
    session = current_session(request)
    agent = current_agent(request)
    service = state(request)
    if session is not None:
        await service.sessions.delete(session.token)
        service.hub.kick(session.token)
    if agent.role in DESK_ROLES:
        await service.desk.set_presence(agent, "offline")
    response = redirect("/console/login", status=303)
    clear_cookie(response, request, SESSION_COOKIE)
    return response


# -- the desk ------------------------------------------------------------------------
@bp.get("/")
@require_role()
async def desk_page(request: Request) -> HTTPResponse:
    """The agent's desk: presence, queue, chats, the open chat and the customer panel.

    Writers and managers have no desk: they land on the writers' pages and the dashboard.
    """
    agent = current_agent(request)
    if agent.role not in DESK_ROLES:
        return redirect("/console/dashboard" if agent.role == "manager" else "/console/writers")
    service = state(request)
    desk = service.desk
    directory = service.agents
    colleagues = [
        {"id": a.agent_id, "name": a.name, "languages": list(a.languages)}
        for a in directory.all() if a.agent_id != agent.agent_id and a.role in DESK_ROLES
    ]
    language = ui_language(request)
    texts = service.texts
    teams = [{"id": t.team_id, "name": texts.text(f"console_team_{t.team_id}", language)
              if f"console_team_{t.team_id}" in texts else t.name} for t in directory.teams.values()]
    boot = {
        "agent": {"id": agent.agent_id, "name": agent.name, "first_name": agent.first_name, "role": agent.role},
        "resolution_codes": list(service.policy.resolution_codes),
        "colleagues": colleagues,
        "teams": teams,
        "canned": [c.to_json(language) for c in service.canned],
        "max_chars": 4000,
        "lang": language,
        "dir": text_direction(language),
        "texts": texts.templates("console_", language),
        # An order's status as the customers' messages name it (the catalog's status_<code>), by code.
        "statuses": texts.templates("status_", language),
    }
    return render(request, "console/desk.html", presence=await desk.presence(agent.agent_id), boot=boot,
                  resolution_codes=boot["resolution_codes"], colleagues=colleagues, teams=teams)


# -- API: helpers ----------------------------------------------------------------------
def _cid(request: Request, cid: str) -> str:
    if not _CID.match(cid):
        raise NotFound(say(request, "console_error_no_conversation", cid=cid[:200]))
    return cid


async def load_conversation(request: Request, cid: str) -> Conversation:
    """The conversation ``cid``, or 404.

    Raises:
        NotFound: No handoff record.
    """
    conv = await state(request).store.get(_cid(request, cid))
    if conv is None:
        raise NotFound(say(request, "console_error_no_conversation", cid=cid))
    return conv


async def _visible(request: Request, cid: str) -> Conversation:
    conv = await load_conversation(request, cid)
    if not conv.visible_to(current_agent(request)):
        raise NotAllowed(say(request, "console_error_not_visible"))
    return conv


def conversation_json(conv: Conversation, agent: Agent) -> Dict[str, Any]:
    """What the console shows of a conversation (no CSAT internals)."""
    keep = (
        "cid", "state", "channel", "language", "reason", "reference", "priority", "topic", "team",
        "target_agent", "agent_id", "agent_name", "customer_name", "email", "phone", "verified_order",
        "requested_at", "queued_at", "assigned_at", "closed_at", "resolution", "summary", "next_steps",
        "after_hours",
    )
    data = jsonable(conv)
    out = {k: data[k] for k in keep}
    out["mine"] = conv.agent_id == agent.agent_id and conv.state is ConversationState.WITH_AGENT
    return out


_TAKE_REFUSALS = {
    "agent_offline": "console_refusal_offline",
    "reserved": "console_refusal_reserved",
}


def _take_refusal(request: Request, state: str, conv: Optional[Conversation], agent: Agent) -> str:
    if state == "agent_full":
        return say(request, "console_refusal_full", capacity=agent.capacity)
    if state in _TAKE_REFUSALS:
        return say(request, _TAKE_REFUSALS[state])
    if state == "not_queued:with_agent" and conv is not None:
        who = conv.agent_name or conv.agent_id or say(request, "console_refusal_another_agent")
        return say(request, "console_refusal_taken", agent=who)
    return say(request, "console_refusal_gone")


# -- API: presence, queue, chats ----------------------------------------------------------
@bp.get("/api/me")
@require_role(*DESK_ROLES)
async def api_me(request: Request) -> HTTPResponse:
    """The logged-in agent and their presence."""
    agent = current_agent(request)
    presence = await state(request).desk.presence(agent.agent_id)
    return json({"id": agent.agent_id, "name": agent.name, "role": agent.role, "presence": presence})


@bp.post("/api/presence")
@require_role(*DESK_ROLES)
async def api_presence(request: Request) -> HTTPResponse:
    """Sets the agent online or away.

    Raises:
        InvalidInput: ``status`` is not ``online`` or ``away``.
    """
    status = text_field(json_body(request), "status", limit=16)
    if status not in ("online", "away"):
        raise InvalidInput(say(request, "console_error_presence"))
    agent = current_agent(request)
    await state(request).desk.set_presence(agent, status)
    return json({"presence": status})


@bp.get("/api/queue")
@require_role(*DESK_ROLES)
async def api_queue(request: Request) -> HTTPResponse:
    """The queue, next first."""
    rows = await state(request).desk.queue_view()
    return json({"queue": jsonable(rows), "server_time": time.time()})


@bp.get("/api/chats")
@require_role(*DESK_ROLES)
async def api_chats(request: Request) -> HTTPResponse:
    """The conversations the agent holds, each with its last message (``last``) for the list's preview."""
    agent = current_agent(request)
    convs = await state(request).desk.my_chats(agent.agent_id)
    last = await last_messages(state(request).store, [c.cid for c in convs])
    return json({"chats": [{**conversation_json(c, agent), "last": last.get(c.cid)} for c in convs]})


@bp.get("/api/chats/<cid>")
@require_role(*DESK_ROLES)
async def api_chat(request: Request, cid: str) -> HTTPResponse:
    """One conversation."""
    conv = await _visible(request, cid)
    return json({"conversation": conversation_json(conv, current_agent(request))})


@bp.get("/api/chats/<cid>/events")
@require_role(*DESK_ROLES)
async def api_events(request: Request, cid: str) -> HTTPResponse:
    """The handoff events of a conversation, after stream id ``after`` (exclusive).

    Raises:
        InvalidInput: ``after`` is not a stream id.
    """
    conv = await _visible(request, cid)
    after = request.args.get("after", "") or ""
    if after and not _STREAM_ID.match(after):
        raise InvalidInput(say(request, "console_error_after"))
    events = await state(request).store.events(conv.cid, after=after or "-", count=1000)
    return json({"events": [e.to_json() for e in events]})


@bp.get("/api/chats/<cid>/transcript")
@require_role(*DESK_ROLES)
async def api_transcript(request: Request, cid: str) -> HTTPResponse:
    """What the customer and the bot said before the handoff (from Rasa's tracker)."""
    conv = await _visible(request, cid)
    desk = state(request).desk
    try:
        turns = await desk.transcript(conv)
    except RasaUnavailable as exc:
        log.warning("transcript of %s unavailable: %s", conv.cid, exc)
        reason = say(request, "console_transcript_no_bot" if desk.rasa is None else "console_transcript_unreachable")
        return json({"available": False, "turns": [], "reason": reason})
    return json({"available": True, "turns": jsonable(turns)})


@bp.get("/api/chats/<cid>/panel")
@require_role(*DESK_ROLES)
async def api_panel(request: Request, cid: str) -> HTTPResponse:
    """The customer panel: identity, orders (``orders_available`` false while the store is down), history."""
    conv = await _visible(request, cid)
    return json(jsonable(await state(request).desk.customer_panel(conv.cid)))


# -- API: actions -------------------------------------------------------------------------
@bp.post("/api/chats/<cid>/take")
@require_role(*DESK_ROLES)
async def api_take(request: Request, cid: str) -> HTTPResponse:
    """Takes a queued conversation.

    Raises:
        Conflict: Someone else took it, or the agent is offline or full.
    """
    json_body(request)  # no fields, but a body must still be a JSON object (or empty)
    conv = await load_conversation(request, cid)
    agent = current_agent(request)
    if conv.state is ConversationState.WITH_AGENT and conv.agent_id == agent.agent_id:
        return json({"conversation": conversation_json(conv, agent)})
    result = await state(request).desk.take(conv.cid, agent)
    now = await state(request).store.get(conv.cid)
    if not result.ok:
        raise Conflict(_take_refusal(request, result.state, now, agent))
    if now is None:
        raise NotFound(say(request, "console_error_no_conversation", cid=cid))
    return json({"conversation": conversation_json(now, agent)})


@bp.post("/api/chats/<cid>/messages")
@require_role(*DESK_ROLES)
async def api_send(request: Request, cid: str) -> HTTPResponse:
    """Sends the agent's message to the customer."""
    text = text_field(json_body(request), "text")
    conv = await load_conversation(request, cid)
    event = await state(request).desk.send(conv.cid, current_agent(request), text)
    return json({"event": event.to_json()}, status=201)


@bp.post("/api/chats/<cid>/notes")
@require_role(*DESK_ROLES)
async def api_note(request: Request, cid: str) -> HTTPResponse:
    """Adds an internal note (never shown to the customer)."""
    text = text_field(json_body(request), "text")
    conv = await _visible(request, cid)
    event = await state(request).desk.note(conv.cid, current_agent(request), text)
    return json({"event": event.to_json()}, status=201)


@bp.post("/api/chats/<cid>/typing")
@require_role(*DESK_ROLES)
async def api_typing(request: Request, cid: str) -> HTTPResponse:
    """Marks the agent as typing in a conversation they hold."""
    json_body(request)  # no fields, but a body must still be a JSON object (or empty)
    conv = await load_conversation(request, cid)
    agent = current_agent(request)
    if conv.agent_id != agent.agent_id or conv.state is not ConversationState.WITH_AGENT:
        raise Conflict(say(request, "console_error_not_in_chat"))
    await state(request).desk.typing(conv.cid, agent)
    return empty()


@bp.post("/api/chats/<cid>/transfer")
@require_role(*DESK_ROLES)
async def api_transfer(request: Request, cid: str) -> HTTPResponse:
    """Sends the conversation back to the queue for another agent or a team.

    Raises:
        InvalidInput: Neither or both of ``to_agent`` and ``to_team``, or oneself.
        Conflict: The transfer did not happen.
    """
    body = json_body(request)
    to_agent = text_field(body, "to_agent", required=False, limit=64)
    to_team = text_field(body, "to_team", required=False, limit=64)
    if bool(to_agent) == bool(to_team):
        raise InvalidInput(say(request, "console_error_transfer_target"))
    agent = current_agent(request)
    if to_agent and (to_agent == agent.agent_id or not _AGENT_ID.match(to_agent)):
        raise InvalidInput(say(request, "console_error_transfer_self"))
    conv = await load_conversation(request, cid)
    result = await state(request).desk.transfer(conv.cid, agent, to_agent=to_agent, to_team=to_team)
    if not result.ok:
        raise Conflict(say(request, "console_error_transfer_failed", state=result.state))
    return json({"state": result.state})


@bp.post("/api/chats/<cid>/close")
@require_role(*DESK_ROLES)
async def api_close(request: Request, cid: str) -> HTTPResponse:
    """Closes the conversation with a resolution code, a summary and next steps.

    Raises:
        InvalidInput: Unknown resolution code.
    """
    body = json_body(request)
    resolution = text_field(body, "resolution", limit=64)
    if resolution not in state(request).policy.resolution_codes:
        codes = ", ".join(state(request).policy.resolution_codes)
        raise InvalidInput(say(request, "console_error_resolution", codes=codes))
    summary = text_field(body, "summary", required=False)
    next_steps = text_field(body, "next_steps", required=False)
    conv = await load_conversation(request, cid)
    result = await state(request).desk.close(conv.cid, current_agent(request), resolution, summary, next_steps)
    return json({"state": result.state})


@bp.get("/api/canned")
@require_role(*DESK_ROLES)
async def api_canned(request: Request) -> HTTPResponse:
    """The canned replies."""
    language = ui_language(request)
    return json({"replies": [c.to_json(language) for c in state(request).canned]})

