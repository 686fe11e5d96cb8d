"""The desk's additions to the console: the language switch, the team's presence and load, search.

- ``POST /console/language`` (a form on every page, CSRF token): the agent's console
  language, remembered per agent in Redis (:mod:`console.ui_choice`); back to the page.
- ``GET /console/api/agents``: every other desk agent with presence, open chats and
  capacity, for the transfer list.
- ``GET /console/api/search?q=``: conversations by reference, name, e-mail, phone or
  text (:mod:`console.search`: a bounded scan and its cost), only those the agent may read.
"""

from __future__ import annotations

from typing import Any, Dict, List
from urllib.parse import urlsplit

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, json, redirect

from console.auth import DESK_ROLES, current_agent, require_role
from console.context import state
from console.middleware import load_session, security_headers
from console.search import MAX_QUERY, search_conversations
from console.ui_choice import save_ui_choice
from console.web import say
from core.errors import InvalidInput
from core.language import as_language, is_language

__all__ = ["bp", "safe_next"]

bp = Blueprint("console_desk_api", url_prefix="/console", strict_slashes=False)
bp.on_request(load_session)
bp.on_response(security_headers)


def safe_next(value: str) -> str:
    """Where to go back after a form: a path of the console (never another site), else the desk."""
    parts = urlsplit(value or "")
    if parts.scheme or parts.netloc or not parts.path.startswith("/console") or "\\" in value:
        return "/console"
    return parts.path + (f"?{parts.query}" if parts.query else "")


@bp.post("/language")
@require_role()
async def choose_language(request: Request) -> HTTPResponse:
    """Sets the agent's console language (``he`` or ``en``) and goes back to the page they were on.

    Raises:
        InvalidInput: Not a language the console speaks.
    """
    form = request.form or {}
    language = str(form.get("language") or "")
    if not is_language(language):
        raise InvalidInput(say(request, "console_error_ui_language"))
    await save_ui_choice(state(request), current_agent(request).agent_id, as_language(language))
    return redirect(safe_next(str(form.get("next") or "")), status=303)


@bp.get("/api/agents")
@require_role(*DESK_ROLES)
async def api_agents(request: Request) -> HTTPResponse:
    """The other desk agents: presence (online, away, offline), open chats and capacity."""
    me = current_agent(request)
    service = state(request)
    keys = service.container.keys
    others = [a for a in service.agents.all() if a.role in DESK_ROLES and a.agent_id != me.agent_id]
    async with service.redis.pipeline(transaction=False) as pipe:
        for agent in others:
            pipe.hget(keys.agent(agent.agent_id), "status")
            pipe.scard(keys.agent_chats(agent.agent_id))
        replies = await pipe.execute()
    rows: List[Dict[str, Any]] = []
    for index, agent in enumerate(others):
        status, load = replies[2 * index], replies[2 * index + 1]
        rows.append({"id": agent.agent_id, "name": agent.name, "languages": list(agent.languages),
                     "presence": str(status or "offline"), "load": int(load or 0), "capacity": agent.capacity})
    return json({"agents": rows})


@bp.get("/api/search")
@require_role(*DESK_ROLES)
async def api_search(request: Request) -> HTTPResponse:
    """Conversations the agent may read that match ``q`` (field matches first, then what was said).

    Raises:
        InvalidInput: ``q`` is longer than 100 characters.
    """
    query = (request.args.get("q", "") or "").strip()
    if len(query) > MAX_QUERY:
        raise InvalidInput(say(request, "console_error_search_long", count=MAX_QUERY))
    me = current_agent(request)
    service = state(request)
    desk_agents = [a.agent_id for a in service.agents.all() if a.role in DESK_ROLES]
    hits = await search_conversations(service.store, desk_agents, me, query)
    return json({"query": query, "results": [hit.to_json(me) for hit in hits]})
