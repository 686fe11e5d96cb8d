"""The console's live feed: one reader of the Redis feed stream per process, fanned out to consoles.

:class:`FeedHub` follows the feed stream (``RedisKeys.feed()``) with a blocking
``XREAD`` and gives each open console (a :class:`Subscriber`) what it should see:

- ``{"type": "queue", "queue": [...]}`` after any state change (the full queue view);
- ``{"type": "state", "cid", "from", "to", "agent_id"}`` to every console;
- ``{"type": "event", "cid", "event": {...}}`` for a message or note, to the
  conversation's agent and to consoles watching that conversation, if their
  agent may still see it (read with the batch: after another agent took it, a
  watcher gets nothing more and is told ``{"type": "watching", "cid": ""}``);
- ``{"type": "typing", "cid", "agent"}`` likewise;
- ``{"type": "presence", "agent", "to"}`` to every console;
- a session ended on any replica (logout, a new password) closes that session's consoles (4401).

Every handoff service replica reads the whole feed, so a console on any replica
sees every change, whichever replica made it: agents need no sticky sessions.

A console that falls behind is disconnected; it reconnects, reloads the
queue and fetches the events after the last stream id it has, so nothing is
lost and (deduplicated by stream id) nothing shows twice.
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Set, Tuple

from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError
from redis.exceptions import TimeoutError as RedisTimeoutError

from console.sessions import SESSION_ENDED, token_digest
from core.redis_keys import RedisKeys
from handoff.desk import Desk
from handoff.models import Agent, Conversation, Event

__all__ = ["CLOSE_LOGGED_OUT", "CLOSE_NOT_ALLOWED", "CLOSE_TOO_SLOW", "FeedHub", "Subscriber"]

log = logging.getLogger(__name__)

BLOCK_MS = 5000
SUBSCRIBER_BUFFER = 2000
MESSAGE_KINDS = ("customer", "agent", "system", "note")
CLOSE_LOGGED_OUT = 4401
CLOSE_NOT_ALLOWED = 4403
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

    def _end_session(self, digest: str) -> None:
        """Closes the consoles of the session whose token has this digest."""
        for sub in list(self.subscribers):
            if digest and token_digest(sub.token) == digest:
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
        events, convs = await self._prefetch(entries)
        for feed_id, data in entries:
            kind = data.get("kind", "")
            cid = data.get("cid", "")
            if kind == "state":
                queue_changed = True
                conv = await self._conversation(cid, convs, refresh=True)
                self._forget_unseen(cid, conv)
                owner = conv.agent_id if conv is not None else ""
                self._broadcast({"type": "state", "cid": cid, "from": data.get("from", ""),
                                 "to": data.get("to", ""), "agent_id": owner, "feed_id": feed_id})
            elif kind == SESSION_ENDED:  # a logout on any replica closes the session's consoles on this one
                self._end_session(data.get("session", ""))
            elif kind == "presence":
                self._broadcast({"type": "presence", "agent": data.get("agent", ""), "to": data.get("to", "")})
            elif kind == "typing" and cid:
                conv = await self._conversation(cid, convs)
                who = data.get("agent", "customer")
                self._to_chat(cid, conv, {"type": "typing", "cid": cid, "agent": who}, skip_agent=who)
            elif kind in MESSAGE_KINDS and cid and data.get("event_id"):
                event = events.get((cid, str(data["event_id"])))
                if event is None:
                    continue
                conv = await self._conversation(cid, convs)
                self._to_chat(cid, conv, {"type": "event", "cid": cid, "event": event.to_json(),
                                          "feed_id": feed_id})
        if queue_changed:
            queue = await self.desk.queue_view()
            self._broadcast({"type": "queue", "queue": queue, "server_time": time.time()})

    async def _conversation(self, cid: str, cache: Dict[str, Optional[Conversation]], *,
                            refresh: bool = False) -> Optional[Conversation]:
        if refresh or cid not in cache:
            cache[cid] = Conversation.from_redis(cid, await self.redis.hgetall(self.keys.conversation(cid)))
        return cache[cid]

    async def _prefetch(
        self, entries: List[Any]
    ) -> Tuple[Dict[Tuple[str, str], Event], Dict[str, Optional[Conversation]]]:
        """The batch's messages and its conversations as they are now, in one round trip.

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
                pipe.hgetall(self.keys.conversation(cid))
            results = await pipe.execute()
        events: Dict[Tuple[str, str], Event] = {}
        for (cid, _), rows in zip(wanted, results[: len(wanted)], strict=True):
            if rows:
                events[(cid, str(rows[0][0]))] = Event.from_redis(str(rows[0][0]), rows[0][1])
        convs = {cid: Conversation.from_redis(cid, raw or {}) for cid, raw in zip(cids, results[len(wanted):],
                                                                                   strict=True)}
        return events, convs

    def _broadcast(self, message: Dict[str, Any]) -> None:
        for sub in list(self.subscribers):
            sub.push(message)

    def _forget_unseen(self, cid: str, conv: Optional[Conversation]) -> None:
        """Stops the consoles watching ``cid`` whose agent may no longer see it, and tells them."""
        for sub in list(self.subscribers):
            if cid in sub.watching and (conv is None or not conv.visible_to(sub.agent)):
                sub.watching.discard(cid)
                sub.push({"type": "watching", "cid": ""})

    def _to_chat(self, cid: str, conv: Optional[Conversation], message: Dict[str, Any],
                 skip_agent: str = "") -> None:
        """Sends ``message`` to the conversation's agent and to the consoles watching it that may still see it."""
        self._forget_unseen(cid, conv)
        owner = conv.agent_id if conv is not None else ""
        for sub in list(self.subscribers):
            if sub.agent.agent_id == skip_agent:
                continue
            if (owner and sub.agent.agent_id == owner) or cid in sub.watching:
                sub.push(message)
