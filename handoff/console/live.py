"""The console's live updates: one feed reader per process, one websocket per open console.

:class:`FeedHub` follows the feed stream (``RedisKeys.feed()``) with a blocking
``XREAD`` and fans each entry out to the connected consoles as JSON:

- ``{"type": "queue", "queue": [...]}`` after any state change (the full queue view);
- ``{"type": "state", "cid", "from", "to", "agent_id"}`` to every console;
- ``{"type": "event", "cid", "event": {...}}`` for a message or note, to the
  conversation's agent and to consoles watching that conversation;
- ``{"type": "typing", "cid", "agent"}`` likewise;
- ``{"type": "presence", "agent", "to"}`` to every console.

A console that falls behind is disconnected; it reconnects, reloads the
queue and fetches the events after the last stream id it has, so nothing is
lost and (deduplicated by stream id) nothing shows twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple
from urllib.parse import urlsplit

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sanic import Request, Sanic
from websockets.exceptions import ConnectionClosed

from handoff.console.auth import current_session
from handoff.console.routes import bp, can_view
from handoff.desk import Desk
from handoff.errors import Forbidden, Unauthorized
from handoff.models import Agent, Event
from handoff.redis_keys import RedisKeys
from handoff.tasks import cancel_and_wait
from handoff.ws import receive

__all__ = ["FeedHub", "Subscriber", "check_websocket_request", "console_websocket", "setup_live"]

log = logging.getLogger(__name__)

BLOCK_MS = 5000
HEARTBEAT_SECONDS = 25.0
SUBSCRIBER_BUFFER = 2000
MESSAGE_KINDS = ("customer", "agent", "system", "note")
CLOSE_LOGGED_OUT = 4401
CLOSE_TOO_SLOW = 4000


@dataclass(eq=False)
class Subscriber:
    """One open console websocket.

    Attributes:
        agent: Who is logged in.
        token: The session token (logout disconnects it).
        watching: Conversations the console has open besides its own.
        queue: Messages waiting to be sent; ``None`` asks the socket to close.
        close_code: Why the hub closed it (0: it did not).
    """

    agent: Agent
    token: str
    watching: Set[str] = field(default_factory=set)
    queue: asyncio.Queue[Optional[Dict[str, Any]]] = field(
        default_factory=lambda: asyncio.Queue(maxsize=SUBSCRIBER_BUFFER)
    )
    close_code: int = 0

    def push(self, message: Dict[str, Any]) -> None:
        """Queues a message; a console too far behind is told to reconnect."""
        if self.close_code:
            return
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            self.stop(CLOSE_TOO_SLOW)

    def stop(self, code: int) -> None:
        """Asks the socket to close with ``code``."""
        if self.close_code:
            return
        self.close_code = code
        while True:  # make room for the sentinel
            try:
                self.queue.put_nowait(None)
                return
            except asyncio.QueueFull:
                self.queue.get_nowait()


class FeedHub:
    """Reads the feed stream and fans its entries out to the connected consoles."""

    def __init__(self, desk: Desk, redis: Redis, keys: RedisKeys) -> None:
        """Keeps its collaborators; starts nothing.

        Args:
            desk: For the queue view.
            redis: Client with ``decode_responses=True`` (one connection blocks in ``XREAD``).
            keys: Key builder.
        """
        self.desk = desk
        self.redis = redis
        self.keys = keys
        self.subscribers: Set[Subscriber] = set()

    # -- subscribers --------------------------------------------------------------
    def subscribe(self, agent: Agent, token: str) -> Subscriber:
        """Registers a console."""
        sub = Subscriber(agent, token)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forgets a console."""
        self.subscribers.discard(sub)

    def kick(self, token: str) -> None:
        """Closes the consoles of a session (on logout)."""
        for sub in list(self.subscribers):
            if sub.token == token:
                sub.stop(CLOSE_LOGGED_OUT)

    # -- the feed -------------------------------------------------------------------
    async def last_id(self) -> str:
        """The id of the newest feed entry ("0-0" for an empty feed)."""
        newest = await self.redis.xrevrange(self.keys.feed(), count=1)
        return str(newest[0][0]) if newest else "0-0"

    async def run(self, stop: asyncio.Event) -> None:
        """Follows the feed until ``stop`` is set; Redis outages are retried."""
        last: Optional[str] = None
        pause = 0.5
        while not stop.is_set():
            try:
                if last is None:
                    last = await self.last_id()
                got = await self.redis.xread({self.keys.feed(): last}, count=200, block=BLOCK_MS)
                pause = 0.5
                if not got:
                    continue
                entries = got[0][1]
                last = str(entries[-1][0])
                if self.subscribers:
                    await self.dispatch(entries)
            except (RedisConnectionError, RedisTimeoutError) as exc:
                log.warning("console feed: redis unavailable (%s); retrying in %.1fs", exc, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 10.0)
            except RedisError as exc:  # e.g. the stream was deleted under us: start again from now
                log.warning("console feed: %s; starting over from the newest entry", exc)
                last = None
                await asyncio.sleep(pause)

    async def dispatch(self, entries: List[Any]) -> None:
        """Sends one batch of feed entries to the consoles that should see them."""
        queue_changed = False
        events, owners = await self._prefetch(entries)
        for feed_id, data in entries:
            kind = data.get("kind", "")
            cid = data.get("cid", "")
            if kind == "state":
                queue_changed = True
                owner = await self._owner(cid, owners, refresh=True)
                self._broadcast({"type": "state", "cid": cid, "from": data.get("from", ""),
                                 "to": data.get("to", ""), "agent_id": owner, "feed_id": feed_id})
            elif kind == "presence":
                self._broadcast({"type": "presence", "agent": data.get("agent", ""), "to": data.get("to", "")})
            elif kind == "typing" and cid:
                owner = await self._owner(cid, owners)
                who = data.get("agent", "customer")
                self._to_chat(cid, owner, {"type": "typing", "cid": cid, "agent": who}, skip_agent=who)
            elif kind in MESSAGE_KINDS and cid and data.get("event_id"):
                event = events.get((cid, str(data["event_id"])))
                if event is None:
                    continue
                owner = await self._owner(cid, owners)
                self._to_chat(cid, owner, {"type": "event", "cid": cid, "event": event.to_json(),
                                           "feed_id": feed_id})
        if queue_changed:
            queue = await self.desk.queue_view()
            self._broadcast({"type": "queue", "queue": queue, "server_time": time.time()})

    async def _owner(self, cid: str, cache: Dict[str, str], *, refresh: bool = False) -> str:
        if refresh or cid not in cache:
            cache[cid] = str(await self.redis.hget(self.keys.conversation(cid), "agent_id") or "")
        return cache[cid]

    async def _prefetch(self, entries: List[Any]) -> Tuple[Dict[Tuple[str, str], Event], Dict[str, str]]:
        """The batch's messages and the owners of its conversations, in one round trip.

        Messages are keyed by conversation and stream id: the same id can occur in
        two conversations' streams.
        """
        wanted = [(str(d["cid"]), str(d["event_id"])) for _, d in entries
                  if d.get("kind") in MESSAGE_KINDS and d.get("cid") and d.get("event_id")]
        cids = sorted({str(d["cid"]) for _, d in entries if d.get("cid")})
        if not wanted and not cids:
            return {}, {}
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid, stream_id in wanted:
                pipe.xrange(self.keys.events(cid), min=stream_id, max=stream_id, count=1)
            for cid in cids:
                pipe.hget(self.keys.conversation(cid), "agent_id")
            results = await pipe.execute()
        events: Dict[Tuple[str, str], Event] = {}
        for (cid, _), rows in zip(wanted, results[: len(wanted)], strict=True):
            if rows:
                events[(cid, str(rows[0][0]))] = Event.from_redis(str(rows[0][0]), rows[0][1])
        owners = {cid: str(owner or "") for cid, owner in zip(cids, results[len(wanted):], strict=True)}
        return events, owners

    def _broadcast(self, message: Dict[str, Any]) -> None:
        for sub in list(self.subscribers):
            sub.push(message)

    def _to_chat(self, cid: str, owner: str, message: Dict[str, Any], skip_agent: str = "") -> None:
        for sub in list(self.subscribers):
            if sub.agent.agent_id == skip_agent:
                continue
            if sub.agent.agent_id == owner or cid in sub.watching:
                sub.push(message)


# -- the websocket ---------------------------------------------------------------------
def check_websocket_request(request: Request) -> None:
    """Admits a websocket upgrade only with a session and from the console's own origin.

    Called from the Blueprint's request middleware, before the upgrade, so the
    refusal is a plain HTTP status.

    Raises:
        Unauthorized: No valid session cookie.
        Forbidden: Another origin, or a role without a desk.
    """
    session = current_session(request)
    agent = request.app.ctx.agents.get(session.agent_id) if session else None
    if session is None or agent is None:
        raise Unauthorized("log in first")
    origin = request.headers.get("origin", "")
    if not origin or urlsplit(origin).netloc.lower() != request.host.lower():
        raise Forbidden("websocket from another origin")
    if agent.role not in ("agent", "supervisor"):
        raise Forbidden(f"the {agent.role} role has no desk")
    request.ctx.agent = agent


async def _read_client(request: Request, ws: Any, sub: Subscriber) -> None:
    """Handles what the console sends: ``{"type": "watch", "cid": ...}`` for the chat it shows."""
    store = request.app.ctx.store
    try:
        while True:
            raw = await receive(ws)
            if raw is None:
                break
            try:
                message = json.loads(raw)
            except ValueError:
                continue
            if not isinstance(message, dict) or message.get("type") != "watch":
                continue
            cid = message.get("cid")
            sub.watching.clear()
            if isinstance(cid, str) and 0 < len(cid) <= 200:
                conv = await store.get(cid)
                if conv is not None and can_view(sub.agent, conv):
                    sub.watching.add(cid)
    except ConnectionClosed:
        pass
    finally:
        sub.stop(1000)


async def console_websocket(request: Request, ws: Any) -> None:
    """The console's live channel (see the module docstring for the messages)."""
    hub: FeedHub = request.app.ctx.console_hub
    session = current_session(request)
    agent: Agent = request.ctx.agent
    if session is None:  # the middleware refused this already
        return
    sub = hub.subscribe(agent, session.token)
    reader = asyncio.create_task(_read_client(request, ws, sub))
    try:
        await ws.send(json.dumps({"type": "hello", "agent": agent.agent_id, "server_time": time.time()}))
        while True:
            try:
                message = await asyncio.wait_for(sub.queue.get(), timeout=HEARTBEAT_SECONDS)
            except TimeoutError:
                if await request.app.ctx.console_sessions.load(session.token) is None:
                    sub.stop(CLOSE_LOGGED_OUT)
                    continue
                message = {"type": "ping", "server_time": time.time()}
            if message is None:
                if sub.close_code and sub.close_code != 1000:
                    await ws.close(sub.close_code, "logged out" if sub.close_code == CLOSE_LOGGED_OUT else "too slow")
                break
            await ws.send(json.dumps(message, ensure_ascii=False))
    except ConnectionClosed:
        pass
    finally:
        hub.unsubscribe(sub)
        reader.cancel()


def setup_live(app: Sanic) -> None:
    """Starts the feed hub with the server and stops it before the server stops."""

    @app.after_server_start
    async def _start_hub(app: Sanic, _loop: Any) -> None:
        app.ctx.console_hub = FeedHub(app.ctx.desk, app.ctx.redis, app.ctx.store.keys)
        app.ctx.console_hub_stop = asyncio.Event()
        app.ctx.console_hub_task = asyncio.create_task(app.ctx.console_hub.run(app.ctx.console_hub_stop))

    @app.before_server_stop
    async def _stop_hub(app: Sanic, _loop: Any) -> None:
        stop: Optional[asyncio.Event] = getattr(app.ctx, "console_hub_stop", None)
        task: Optional[asyncio.Task[None]] = getattr(app.ctx, "console_hub_task", None)
        if stop is not None:
            stop.set()
        hub: Optional[FeedHub] = getattr(app.ctx, "console_hub", None)
        for sub in list(hub.subscribers if hub is not None else ()):
            sub.stop(1001)
        await cancel_and_wait(task)


bp.add_websocket_route(console_websocket, "/ws", name="ws")
