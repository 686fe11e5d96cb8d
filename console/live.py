"""The console's live channel: one websocket per open console, fed by the hub (``console.feed``).

``GET /console/ws`` (exactly that path: ``/console/ws/`` is not found) is
admitted with a session, from the console's own origin and for a role with a
desk: the middleware checks every websocket upgrade before it happens, and the
handler checks again itself, closing with 4401 or 4403 whatever path led to it.
It says hello, then sends what the hub gives this console and a ping when
nothing happened for a while (the session is checked again then: an ended
session closes it). The console may send ``{"type": "watch", "cid": ...}`` for
the conversation it shows, and is told what it watches from then on
(``{"type": "watching", "cid": ...}``, ``""`` if none); the hub checks at every
message that the agent may still see it. While the socket is open it is the
agent's heartbeat (``handoff.presence``): it touches their last-seen time more
often than the away time, as does a ``{"type": "heartbeat"}`` from the console.
"""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

from sanic import Blueprint, Request

from console.auth import current_session
from console.context import state
from console.feed import CLOSE_LOGGED_OUT, CLOSE_NOT_ALLOWED, Subscriber
from console.middleware import check_websocket_request, fingerprint_of, load_session
from core.errors import KesherError, NotAuthenticated
from edge.ws import SOCKET_GONE, receive
from handoff.models import Agent

__all__ = ["HEARTBEAT_SECONDS", "bp", "console_websocket"]

HEARTBEAT_SECONDS = 25.0

bp = Blueprint("console_live", url_prefix="/console", strict_slashes=True)
bp.on_request(load_session)


async def _read_client(request: Request, ws: Any, sub: Subscriber) -> None:
    """Handles what the console sends: ``{"type": "watch", "cid": ...}`` for the chat it shows (confirmed)."""
    store = state(request).store
    try:
        while True:
            raw = await receive(ws)
            if raw is None:
                break
            try:
                message = json.loads(raw)
            except (ValueError, RecursionError):
                continue
            if isinstance(message, dict) and message.get("type") == "heartbeat":
                await state(request).container.presence.touch(sub.agent)
                continue
            if not isinstance(message, dict) or message.get("type") != "watch":
                continue
            cid = message.get("cid")
            sub.watching.clear()
            if isinstance(cid, str) and 0 < len(cid) <= 200:
                conv = await store.get(cid)
                if conv is not None and conv.visible_to(sub.agent):
                    sub.watching.add(cid)
            sub.push({"type": "watching", "cid": cid if isinstance(cid, str) and cid in sub.watching else ""})
    except SOCKET_GONE:
        pass
    finally:
        sub.stop(1000)


async def console_websocket(request: Request, ws: Any) -> None:
    """The console's live channel (see the module docstring)."""
    service = state(request)
    try:  # the middleware checked this before the upgrade; check again here, whatever the path
        check_websocket_request(request)
    except KesherError as exc:
        await ws.close(CLOSE_LOGGED_OUT if isinstance(exc, NotAuthenticated) else CLOSE_NOT_ALLOWED, str(exc)[:120])
        return
    session = current_session(request)
    agent: Agent = request.ctx.agent
    if session is None:
        return
    sub = service.hub.subscribe(agent, session.token)
    reader = asyncio.create_task(_read_client(request, ws, sub))
    presence = service.container.presence
    # While the socket is open the agent is there: it proves so more often than the away time.
    wait = min(HEARTBEAT_SECONDS, presence.touch_seconds)
    touched = 0.0
    try:
        await ws.send(json.dumps({"type": "hello", "agent": agent.agent_id, "server_time": time.time()}))
        while True:
            if time.monotonic() - touched >= wait:
                await presence.touch(agent)
                touched = time.monotonic()
            try:
                message = await asyncio.wait_for(sub.queue.get(), timeout=wait)
            except TimeoutError:
                if await service.sessions.load(session.token, fingerprint_of(service)) is None:
                    sub.stop(CLOSE_LOGGED_OUT)
                    continue
                message = {"type": "ping", "server_time": time.time()}
            if message is None:
                if sub.close_code and sub.close_code != 1000:
                    await ws.close(sub.close_code, "logged out" if sub.close_code == CLOSE_LOGGED_OUT else "too slow")
                break
            await ws.send(json.dumps(message, ensure_ascii=False))
    except SOCKET_GONE:
        pass
    finally:
        service.hub.unsubscribe(sub)
        reader.cancel()


bp.add_websocket_route(console_websocket, "/ws", name="ws")
