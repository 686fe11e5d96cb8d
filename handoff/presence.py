"""Presence that tells the truth, and customers whose agent went silent.

Every open console proves its agent is there: the console's websocket touches the
agent's last-seen time while it is open, and the page's script sends a heartbeat
(``POST /console/api/heartbeat``, or ``{"type": "heartbeat"}`` on the socket). The
times are one sorted set (``RedisKeys.agents_seen``), so any replica may take a
heartbeat. A sweeper (:meth:`PresenceKeeper.sweep`, one replica at a time under a
lease naming its holder) makes an online agent whose last heartbeat is older than
``away_seconds`` away (a closed tab, a lost connection); the next heartbeat of an
agent made away this way brings them back online, and the presence change wakes
the assigner, so a waiting customer is assigned at once.

A customer whose last message their agent has not answered for ``silent_seconds``
(or who has had no first answer that long since the agent got the chat) is told,
and the chat moves to the next suitable agent (:func:`handoff.assigner.rank_agents`,
never the silent one): it is the same conversation, so the transcript, the notes
and the customer panel go with it. When nobody else can take it now, the customer
is told so (we are finding someone; they keep their place) and the chat goes back
to the queue, in its original place, marked as left by the silent agent
(``Conversation.left_by``), so the assigner gives it to the next suitable agent to
come online and never back to the silent one (:func:`requeue_silent`). Either way
the customer is told once: the chat is no longer the silent agent's, so the next
sweep does not see it again. The silent agent's console is told why
(:meth:`PresenceKeeper.moved_from`). Each move is recorded in the event log
(``handoff_transferred`` with reason ``agent_silent``; no agent when it was queued).
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import uuid
from dataclasses import dataclass, field, replace
from typing import Any, Dict, List, Optional, Tuple

from redis.exceptions import RedisError

from core.service_events import EventKind as ServiceEventKind
from handoff.assigner import rank_agents
from handoff.desk import Desk
from handoff.models import Agent, Conversation, ConversationState, Event, EventKind

__all__ = ["MOVED_KEEP", "Move", "PresenceKeeper", "SweepResult", "move_chat", "requeue_silent", "waiting_since"]

log = logging.getLogger(__name__)

MOVED_KEEP = 50  # notices of moved chats kept per agent
MOVED_TTL_SECONDS = 24 * 3600
SEEN_TTL_SECONDS = 24 * 3600  # the last-seen times outlive a day without any heartbeat by nothing
# KEYS[1]: the lease; ARGV[1]: the holder's token. Frees the lease only if this holder still has it.
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@dataclass(frozen=True)
class Move:
    """A chat that left one agent for another.

    Attributes:
        cid: The conversation.
        reference: Its handoff reference (what the console shows).
        from_agent: Who had it.
        to_agent: Who has it now (reserved for them if they could not take it at once); "" when it went
            back to the queue because nobody else could take it.
        reason: ``agent_silent`` or ``supervisor``.
        at: Epoch seconds.
        minutes: How long the customer had waited unanswered (silent moves).
    """

    cid: str
    reference: str
    from_agent: str
    to_agent: str
    reason: str
    at: float
    minutes: int = 0

    def to_json(self) -> Dict[str, Any]:
        """The move as the console's JSON."""
        return {"cid": self.cid, "reference": self.reference, "from_agent": self.from_agent,
                "to_agent": self.to_agent, "reason": self.reason, "at": self.at, "minutes": self.minutes}


@dataclass
class SweepResult:
    """What one sweep did (empty when another replica held the lease)."""

    swept: bool = False
    away: List[str] = field(default_factory=list)
    moved: List[Move] = field(default_factory=list)


async def waiting_since(desk: Desk, conv: Conversation, scan: int = 200) -> float:
    """Since when the customer of a chat with an agent has been waiting for an answer (0: they are not).

    The customer waits from their oldest message after the agent's last reply; a chat whose
    agent has not replied since they got it waits from the assignment.
    """
    rows = await desk.store.redis.xrevrange(desk.store.keys.events(conv.cid), count=scan)
    oldest_unanswered = 0.0
    for stream_id, raw in rows:
        event = Event.from_redis(str(stream_id), raw)
        if event.at and event.at < conv.assigned_at:
            break  # before this agent had the chat: the agent still owes the first reply
        if event.kind is EventKind.AGENT:
            return oldest_unanswered
        if event.kind is EventKind.CUSTOMER:
            oldest_unanswered = event.at
    return max(oldest_unanswered, conv.assigned_at) if conv.assigned_at else oldest_unanswered


async def move_chat(desk: Desk, conv: Conversation, to: Agent, *, reason: str, minutes: int = 0,
                    by: str = "") -> Optional[Move]:
    """Moves a chat from its agent to ``to``: the customer is told, the new agent gets a note.

    The conversation goes back to the queue reserved for ``to`` (one atomic transition that
    checks it is still with the same agent) and ``to`` takes it at once when they have room;
    the transcript, notes and panel are the conversation's own, so they go along.

    Args:
        desk: The desk.
        conv: The chat, as read (with its agent).
        to: The agent who gets it.
        reason: ``agent_silent`` or ``supervisor``.
        minutes: How long the customer had waited (silent moves).
        by: Who moved it (a supervisor's id), for the event log.

    Returns:
        The move, or None when the chat was no longer with that agent.
    """
    store, texts = desk.store, desk.texts
    result = await store.transfer(conv.cid, conv.agent_id, team=conv.team, target_agent=to.agent_id,
                                  priority_bonus=desk.policy.transfer_priority_bonus)
    if not result.ok:
        return None
    now = desk.clock()
    move = Move(conv.cid, conv.reference, conv.agent_id, to.agent_id, reason, now, minutes)
    note_language = to.ui_language or "en"
    note_key = "agent_note_silent_moved" if reason == "agent_silent" else "agent_note_supervisor_moved"
    await store.add_event(conv.cid, Event(
        kind=EventKind.NOTE, author="kesher", author_name="Kesher", data={"moved": move.to_json()},
        text=texts.text(note_key, note_language, previous=conv.agent_name or conv.agent_id, agent=to.name,
                        minutes=max(1, minutes)),
    ))
    customer_key = "agent_silent_moved" if reason == "agent_silent" else "transferred"
    await store.tell_customer(conv, texts.text(customer_key, conv.language))
    await store.record(ServiceEventKind.HANDOFF_TRANSFERRED, conv, agent=to.agent_id, team=conv.team, reason=reason)
    await store.record(ServiceEventKind.NOTICE_SENT, conv, reason=customer_key)
    if by:
        await store.record(ServiceEventKind.AGENT_ACTION, conv, agent=by, reason="supervisor_reassign")
    await _tell_the_holder(desk, move)
    await desk.take(conv.cid, to, require_online=False)
    return move


async def requeue_silent(desk: Desk, conv: Conversation, *, minutes: int) -> Optional[Move]:
    """Puts a silent agent's chat back in the queue when nobody else can take it now; the customer is told.

    The chat keeps its place (:meth:`HandoffStore.transfer` keeps the original wait order, ahead of new
    requests) and is marked as left by its agent, so the assigner gives it, with the whole conversation,
    to the next suitable agent who comes online, never back to the silent one.

    Args:
        desk: The desk.
        conv: The chat, as read (with its silent agent).
        minutes: How long the customer had waited unanswered.

    Returns:
        The move (``to_agent`` ""), or None when the chat was no longer with that agent.
    """
    store, texts = desk.store, desk.texts
    result = await store.transfer(conv.cid, conv.agent_id, team=conv.team,
                                  priority_bonus=desk.policy.transfer_priority_bonus, left_by=conv.agent_id)
    if not result.ok:
        return None
    # The customer is told they keep their place: from that place on, the assigner's position updates apply.
    await store.update(conv.cid, notified_position=max(1, await store.position(conv.cid)), notified_eta=0)
    move = Move(conv.cid, conv.reference, conv.agent_id, "", "agent_silent", desk.clock(), minutes)
    # The next agent is not known yet; whoever it is speaks the conversation's language (rank_agents).
    await store.add_event(conv.cid, Event(
        kind=EventKind.NOTE, author="kesher", author_name="Kesher", data={"moved": move.to_json()},
        text=texts.text("agent_note_silent_requeued", conv.language, previous=conv.agent_name or conv.agent_id,
                        minutes=max(1, minutes)),
    ))
    await store.tell_customer(conv, texts.text("agent_silent_requeued", conv.language))
    await store.record(ServiceEventKind.HANDOFF_TRANSFERRED, conv, agent="", team=conv.team, reason="agent_silent")
    await store.record(ServiceEventKind.NOTICE_SENT, conv, reason="agent_silent_requeued")
    await _tell_the_holder(desk, move)
    return move


async def _tell_the_holder(desk: Desk, move: Move) -> None:
    """Keeps the move on the list the silent (or replaced) agent's console reads (``moved_from``)."""
    store = desk.store
    key = store.keys.agent_moved(move.from_agent)
    async with store.redis.pipeline(transaction=True) as pipe:
        pipe.lpush(key, json.dumps(move.to_json()))
        pipe.ltrim(key, 0, MOVED_KEEP - 1)
        pipe.expire(key, MOVED_TTL_SECONDS)
        await pipe.execute()


class PresenceKeeper:
    """Heartbeats, the away sweeper and the moves of silent agents' chats (see the module docstring)."""

    def __init__(self, desk: Desk, *, away_seconds: float, silent_seconds: float, sweep_seconds: float = 5.0) -> None:
        """Keeps the desk and the timings; starts nothing.

        Args:
            desk: The desk (its store, clock, agents and texts).
            away_seconds: An online agent without a heartbeat this long becomes away.
            silent_seconds: A customer unanswered this long is moved to another agent.
            sweep_seconds: Pause between two sweeps of :meth:`run`.
        """
        self.desk = desk
        self.away_seconds = away_seconds
        self.silent_seconds = silent_seconds
        self.sweep_seconds = sweep_seconds

    @property
    def touch_seconds(self) -> float:
        """How often an open console should prove it is there (a third of the away time, at most 20 s)."""
        return max(0.2, min(20.0, self.away_seconds / 3))

    # -- heartbeats ------------------------------------------------------------------
    async def touch(self, agent: Agent) -> str:
        """Records a heartbeat of ``agent``; an agent the sweeper made away is online again.

        Returns:
            The agent's presence after the heartbeat.
        """
        store = self.desk.store
        keys = store.keys
        async with store.redis.pipeline(transaction=False) as pipe:
            pipe.zadd(keys.agents_seen(), {agent.agent_id: self.desk.clock()})
            pipe.expire(keys.agents_seen(), SEEN_TTL_SECONDS)  # nothing in Redis is kept forever
            pipe.hmget(keys.agent(agent.agent_id), ["status", "auto"])
            _, _, (status, auto) = await pipe.execute()
        if status == "away" and auto == "1":
            await self.desk.set_presence(agent, "online")
            return "online"
        return str(status or "offline")

    async def last_seen(self) -> Dict[str, float]:
        """Every agent's last heartbeat (epoch seconds), by id."""
        rows = await self.desk.store.redis.zrange(self.desk.store.keys.agents_seen(), 0, -1, withscores=True)
        return {str(agent_id): float(score) for agent_id, score in rows}

    async def moved_from(self, agent_id: str, after: float = 0.0) -> List[Dict[str, Any]]:
        """The chats taken from ``agent_id`` after ``after`` (epoch seconds), newest first."""
        rows = await self.desk.store.redis.lrange(self.desk.store.keys.agent_moved(agent_id), 0, MOVED_KEEP - 1)
        out = []
        for row in rows:
            try:
                data = json.loads(row)
            except ValueError:
                continue
            if isinstance(data, dict) and float(data.get("at") or 0) > after:
                out.append(data)
        return out

    # -- the sweeper -----------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Sweeps every ``sweep_seconds`` until ``stop`` is set; Redis errors are logged and retried."""
        while not stop.is_set():
            try:
                await self.sweep()
            except RedisError as exc:
                log.warning("presence sweeper: redis error %s; retrying", exc)
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.sweep_seconds)
            except TimeoutError:
                pass

    async def sweep(self) -> SweepResult:
        """One pass: stale online agents become away, silent agents' customers move on.

        Only the replica holding the lease sweeps; the others return an empty result.
        """
        store = self.desk.store
        lease = store.keys.lease("presence")
        token = uuid.uuid4().hex
        hold_ms = int(max(10.0, self.sweep_seconds * 4) * 1000)
        if not await store.redis.set(lease, token, nx=True, px=hold_ms):
            return SweepResult()
        try:
            result = SweepResult(swept=True)
            result.away = await self._mark_away()
            result.moved = await self._move_silent()
            return result
        finally:
            await store.redis.eval(_RELEASE, 1, lease, token)

    async def _mark_away(self) -> List[str]:
        store, keys = self.desk.store, self.desk.store.keys
        now = self.desk.clock()
        online = sorted(await store.redis.smembers(keys.agents_online()))
        if not online:
            return []
        scores = await store.redis.zmscore(keys.agents_seen(), online)
        away: List[str] = []
        for agent_id, seen in zip(online, scores, strict=True):
            agent = self.desk.agents.get(agent_id)
            if agent is None:
                continue
            if seen is None:  # online without a heartbeat so far (set by the API): counted from now
                await store.redis.zadd(keys.agents_seen(), {agent_id: now}, nx=True)
                await store.redis.expire(keys.agents_seen(), SEEN_TTL_SECONDS)
            elif now - float(seen) > self.away_seconds:
                await self.desk.set_presence(agent, "away", auto=True)
                log.info("presence: %s had no heartbeat for %.0f s; now away", agent_id, now - float(seen))
                away.append(agent_id)
        return away

    async def _candidates(self, seen: Dict[str, float]) -> List[Tuple[Agent, int]]:
        store = self.desk.store
        now = self.desk.clock()
        out = []
        for agent in await self.desk.online_agents():
            last = seen.get(agent.agent_id)
            if last is not None and now - last > self.away_seconds:
                continue
            out.append((agent, int(await store.redis.scard(store.keys.agent_chats(agent.agent_id)))))
        return out

    async def _move_silent(self) -> List[Move]:
        now = self.desk.clock()
        moved: List[Move] = []
        seen: Optional[Dict[str, float]] = None
        for holder in self.desk.agents.all():
            for conv in await self.desk.my_chats(holder.agent_id):
                if conv.state is not ConversationState.WITH_AGENT or conv.agent_id != holder.agent_id:
                    continue
                since = await waiting_since(self.desk, conv)
                if not since or now - since < self.silent_seconds:
                    continue
                if seen is None:
                    seen = await self.last_seen()
                candidates = [(a, n) for a, n in await self._candidates(seen) if a.agent_id != holder.agent_id]
                ranked = rank_agents(replace(conv, target_agent=""), candidates, self.desk)
                minutes = max(1, math.floor((now - since) / 60))
                if ranked:
                    move = await move_chat(self.desk, conv, ranked[0], reason="agent_silent", minutes=minutes)
                else:  # nobody else can take it now: back to the queue, for the next agent to come online
                    move = await requeue_silent(self.desk, conv, minutes=minutes)
                if move is not None:
                    log.info("presence: %s left %s unanswered; %s", holder.agent_id, conv.cid,
                             f"moved to {move.to_agent}" if move.to_agent else "back in the queue")
                    moved.append(move)
        return moved
