"""The handoff state machine of a conversation, kept in Redis.

::

    bot ──request──▶ queued ──take──▶ with_agent ──close──▶ closed ──resume──▶ bot
                      │  ▲                 │
          give_up ◀───┘  └────transfer─────┘

Every transition is one Lua script, so it is atomic: two agents taking the
same conversation at once produce exactly one owner, and a customer giving up
while an agent takes the chat ends in one state or the other, never both.
Each transition bumps the conversation's ``version`` and appends a ``state``
event to the feed that consoles and the assigner follow.

Nothing is kept forever (``KESHER_RETENTION_DAYS``, 30 days by default, like
Rasa's trackers): every write to a conversation's record or event stream sets
both to expire ``retention`` seconds after that last activity, a customer's
history of handoffs expires the same way after its last entry, the ``closed``
set drops conversations closed longer ago than that, and the shared streams
(the feed and the outbound messages) are trimmed of entries older than that.
A conversation left in the queue that long lapses a day before its record would
expire (:meth:`HandoffStore.lapsing`): the assigner takes it out of the queue and
records it as abandoned (``timed_out``).
Card and ID numbers are masked (:func:`core.masking.mask_sensitive`) before an
event, what the customer asked the bot, or the agent's summary is stored.
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional, Sequence, Tuple

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline

from core.masking import mask_sensitive
from core.redis_keys import RedisKeys
from core.service_events import EventKind as ServiceEventKind
from handoff.event_log import EventLog
from handoff.models import Conversation, ConversationState, Event, EventKind, HandoffRequest, OutboundMessage

__all__ = ["DEFAULT_RETENTION_SECONDS", "FEED_MAXLEN", "LAPSE_MARGIN_SECONDS", "HandoffStore", "TransitionResult",
           "queue_score"]

FEED_MAXLEN = 20_000
# How long a conversation's delivery order outlives its newest outbound message (far beyond any retry;
# never beyond the retention, as its key names the conversation).
OUTBOUND_ORDER_TTL_SECONDS = 7 * 24 * 3600
EVENTS_MAXLEN = 5_000
HISTORY_LENGTH = 50
DEFAULT_RETENTION_SECONDS = 30 * 24 * 3600
# A queued conversation lapses this long before its record would expire (at most half the retention): time
# enough for a handoff service to see it while its facts (contact, channel, language) are still there.
LAPSE_MARGIN_SECONDS = 24 * 3600
MASK_INLINE_CHARS = 20_000
# Seconds of waiting one priority level is worth: priority 1 goes ahead of
# priority 0 requests made up to this long before it.
PRIORITY_STEP = 10_000_000.0


def queue_score(priority: int, queued_at: float) -> float:
    """Queue order: higher priority first, then first come first served."""
    return queued_at - priority * PRIORITY_STEP


# Common Lua: append a state event to the conversation's stream and the feed; the record and
# its events expire RETENTION seconds after this activity, the feed forgets older entries.
_LUA_PRELUDE = """
local function note_state(conv, conv_events, feed, cid, from_state, to_state, now, extra)
  local data = cjson.encode({from=from_state, to=to_state, extra=extra})
  local id = redis.call('XADD', conv_events, 'MAXLEN', '~', ARGV_EVENTS_MAXLEN, '*',
    'kind', 'state', 'text', to_state, 'author', 'kesher', 'author_name', '',
    'at', now, 'message_id', '', 'data', data)
  redis.call('EXPIRE', conv, RETENTION)
  redis.call('EXPIRE', conv_events, RETENTION)
  redis.call('XADD', feed, 'MAXLEN', '~', ARGV_FEED_MAXLEN, '*', 'cid', cid, 'kind', 'state',
    'from', from_state, 'to', to_state, 'event_id', id)
  local t = redis.call('TIME')
  local oldest = (tonumber(t[1]) - RETENTION) * 1000
  if oldest > 0 then redis.call('XTRIM', feed, 'MINID', string.format('%d', oldest)) end
  redis.call('EXPIRE', feed, RETENTION)
  return id
end
local function state_of(conv)
  local s = redis.call('HGET', conv, 'state')
  if not s then return 'bot' end
  return s
end
""".replace("ARGV_EVENTS_MAXLEN", str(EVENTS_MAXLEN)).replace("ARGV_FEED_MAXLEN", str(FEED_MAXLEN))

# KEYS: conv, events, feed, queue. ARGV: cid, now, score, then field/value pairs.
_REQUEST = _LUA_PRELUDE + """
local s = state_of(KEYS[1])
if s == 'queued' or s == 'with_agent' then return {0, s} end
for i = 4, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i+1]) end
redis.call('HSET', KEYS[1], 'state', 'queued', 'queued_at', ARGV[2], 'agent_id', '', 'agent_name', '',
  'assigned_at', '0', 'closed_at', '0', 'resolution', '', 'csat_stage', '', 'csat_rating', '0',
  'csat_comment', '', 'notified_position', '0', 'notified_eta', '0', 'target_agent', '', 'left_by', '',
  'agent_replies', '0')
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('ZADD', KEYS[4], ARGV[3], ARGV[1])
note_state(KEYS[1], KEYS[2], KEYS[3], ARGV[1], s, 'queued', ARGV[2], '')
return {1, 'queued'}
"""

# KEYS: conv, events, feed, queue, agent, agent_chats, agents_online.
# ARGV: cid, now, agent_id, agent_name, capacity, require_online ('1'/'0').
_TAKE = _LUA_PRELUDE + """
local s = state_of(KEYS[1])
if s ~= 'queued' then
  -- a record that expired while queued (no activity for the whole retention) leaves the queue
  if redis.call('EXISTS', KEYS[1]) == 0 then redis.call('ZREM', KEYS[4], ARGV[1]) end
  return {0, 'not_queued:' .. s}
end
if ARGV[6] == '1' and redis.call('SISMEMBER', KEYS[7], ARGV[3]) == 0 then return {0, 'agent_offline'} end
if redis.call('SCARD', KEYS[6]) >= tonumber(ARGV[5]) then return {0, 'agent_full'} end
local target = redis.call('HGET', KEYS[1], 'target_agent')
if ARGV[6] == '1' and target and target ~= '' and target ~= ARGV[3] then return {0, 'reserved'} end
redis.call('HSET', KEYS[1], 'state', 'with_agent', 'agent_id', ARGV[3], 'agent_name', ARGV[4],
  'assigned_at', ARGV[2], 'target_agent', '', 'left_by', '')
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('SADD', KEYS[6], ARGV[1])
note_state(KEYS[1], KEYS[2], KEYS[3], ARGV[1], s, 'with_agent', ARGV[2], ARGV[3])
return {1, 'with_agent'}
"""

# KEYS: conv, events, feed, queue, agent_chats(old). ARGV: cid, now, agent_id, score, team, target_agent, left_by.
_TRANSFER = _LUA_PRELUDE + """
local s = state_of(KEYS[1])
if s ~= 'with_agent' then return {0, 'not_with_agent:' .. s} end
if redis.call('HGET', KEYS[1], 'agent_id') ~= ARGV[3] then return {0, 'not_owner'} end
redis.call('HSET', KEYS[1], 'state', 'queued', 'agent_id', '', 'agent_name', '', 'queued_at', ARGV[2],
  'team', ARGV[5], 'target_agent', ARGV[6], 'left_by', ARGV[7], 'notified_position', '0', 'notified_eta', '0')
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('SREM', KEYS[5], ARGV[1])
redis.call('ZADD', KEYS[4], ARGV[4], ARGV[1])
note_state(KEYS[1], KEYS[2], KEYS[3], ARGV[1], s, 'queued', ARGV[2], ARGV[3] .. '>' .. ARGV[6] .. '@' .. ARGV[5])
return {1, 'queued'}
"""

# KEYS: conv, events, feed, agent_chats, handle_times, closed.
# ARGV: cid, now, agent_id, resolution, summary, next_steps, max_samples.
_CLOSE = _LUA_PRELUDE + """
local s = state_of(KEYS[1])
if s ~= 'with_agent' then return {0, 'not_with_agent:' .. s} end
if redis.call('HGET', KEYS[1], 'agent_id') ~= ARGV[3] then return {0, 'not_owner'} end
local assigned = tonumber(redis.call('HGET', KEYS[1], 'assigned_at') or '0')
redis.call('HSET', KEYS[1], 'state', 'closed', 'closed_at', ARGV[2], 'resolution', ARGV[4],
  'summary', ARGV[5], 'next_steps', ARGV[6], 'csat_stage', 'rating')
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('SREM', KEYS[4], ARGV[1])
if assigned > 0 then
  redis.call('LPUSH', KEYS[5], tostring(tonumber(ARGV[2]) - assigned))
  redis.call('LTRIM', KEYS[5], 0, tonumber(ARGV[7]) - 1)
end
redis.call('ZADD', KEYS[6], ARGV[2], ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[6], '-inf', '(' .. tostring(tonumber(ARGV[2]) - RETENTION))
redis.call('EXPIRE', KEYS[6], RETENTION)
note_state(KEYS[1], KEYS[2], KEYS[3], ARGV[1], s, 'closed', ARGV[2], ARGV[4])
return {1, 'closed'}
"""

# KEYS: conv, queue. ARGV: cid. A queued conversation whose record expired leaves the queue (1), once.
_FORGET_LAPSED = """
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
return redis.call('ZREM', KEYS[2], ARGV[1])
"""

# KEYS: conv, events, feed, queue. ARGV: cid, now, from_state, why.
_TO_BOT = _LUA_PRELUDE + """
local s = state_of(KEYS[1])
if s ~= ARGV[3] then return {0, 'not_' .. ARGV[3] .. ':' .. s} end
redis.call('HSET', KEYS[1], 'state', 'bot', 'agent_id', '', 'target_agent', '')
redis.call('HINCRBY', KEYS[1], 'version', 1)
redis.call('ZREM', KEYS[4], ARGV[1])
note_state(KEYS[1], KEYS[2], KEYS[3], ARGV[1], s, 'bot', ARGV[2], ARGV[4])
return {1, 'bot'}
"""


@dataclass(frozen=True)
class TransitionResult:
    """The outcome of a transition attempt.

    Attributes:
        ok: Whether the state changed.
        state: The new state, or why not (``not_queued:with_agent``, ``agent_full``...).
    """

    ok: bool
    state: str


def _result(raw: Sequence[Any]) -> TransitionResult:
    ok, state = raw
    return TransitionResult(bool(int(ok)), state.decode() if isinstance(state, bytes) else str(state))


class HandoffStore:
    """Reads and changes handoff state in Redis; every other part goes through it.

    The client must be created with ``decode_responses=True``.
    """

    def __init__(
        self,
        redis: Redis,
        keys: Optional[RedisKeys] = None,
        clock: Any = time.time,
        retention_seconds: int = DEFAULT_RETENTION_SECONDS,
        event_log: Optional[EventLog] = None,
    ) -> None:
        """Keeps the connection; opens nothing.

        Args:
            redis: An asyncio Redis client with ``decode_responses=True``.
            keys: Key builder (default prefix ``kesher:ho:``).
            clock: Returns epoch seconds (tests fix it).
            retention_seconds: How long a conversation's record, events and history are kept
                after their last activity (``Settings.retention_seconds``).
            event_log: Where the desk, the router and the assigner record service events (None: nowhere).
        """
        self.redis = redis
        self.event_log = event_log
        self.keys = keys or RedisKeys()
        self.clock = clock
        self.retention = int(retention_seconds)
        if self.retention < 1:
            raise ValueError("retention_seconds must be positive")
        self.lapse_margin = min(LAPSE_MARGIN_SECONDS, self.retention // 2)
        """Seconds before its record expires at which a queued conversation lapses (:meth:`lapsing`)."""

        def script(source: str) -> Any:
            return redis.register_script(source.replace("RETENTION", str(self.retention)))

        self._request = script(_REQUEST)
        self._take = script(_TAKE)
        self._transfer = script(_TRANSFER)
        self._close = script(_CLOSE)
        self._to_bot = script(_TO_BOT)
        self._forget_lapsed = redis.register_script(_FORGET_LAPSED)

    # -- reading -----------------------------------------------------------
    async def get(self, cid: str) -> Optional[Conversation]:
        """The conversation's record, or None if it never went to a human."""
        raw = await self.redis.hgetall(self.keys.conversation(cid))
        return Conversation.from_redis(cid, raw)

    async def get_many(self, cids: Sequence[str]) -> List[Optional[Conversation]]:
        """The records of several conversations in one round trip, in the order asked."""
        if not cids:
            return []
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in cids:
                pipe.hgetall(self.keys.conversation(cid))
            raws = await pipe.execute()
        return [Conversation.from_redis(cid, raw) for cid, raw in zip(cids, raws, strict=True)]

    async def state(self, cid: str) -> ConversationState:
        """The conversation's state (``bot`` when it has no record)."""
        raw = await self.redis.hget(self.keys.conversation(cid), "state")
        return ConversationState(raw) if raw else ConversationState.BOT

    async def queue(self) -> List[str]:
        """Queued conversation ids, next first."""
        return list(await self.redis.zrange(self.keys.queue(), 0, -1))

    async def lapsing(self) -> Tuple[List[str], List[str]]:
        """Queued conversations nobody took and nothing happened in for nearly the retention.

        Every activity (a message either way, a transition) sets the record to expire ``retention`` seconds
        later; a conversation still queued when its record has less than :attr:`lapse_margin` seconds left
        lapses (the assigner takes it out of the queue as abandoned, :meth:`give_up` with ``timed_out``).

        Returns:
            The ids whose record expires within the margin, and those whose record is already gone (no
            handoff service ran in the margin; :meth:`forget_lapsed` takes them out of the queue).
        """
        queue = await self.queue()
        if not queue:
            return [], []
        async with self.redis.pipeline(transaction=False) as pipe:
            for cid in queue:
                pipe.ttl(self.keys.conversation(cid))
            ttls = await pipe.execute()
        lapsing = [cid for cid, ttl in zip(queue, ttls, strict=True) if 0 <= int(ttl) <= self.lapse_margin]
        gone = [cid for cid, ttl in zip(queue, ttls, strict=True) if int(ttl) == -2]
        return lapsing, gone

    async def forget_lapsed(self, cid: str) -> bool:
        """Takes a queued conversation whose record expired out of the queue; True if this call did."""
        return bool(await self._forget_lapsed(keys=[self.keys.conversation(cid), self.keys.queue()], args=[cid]))

    async def position(self, cid: str) -> int:
        """1-based place in the queue, 0 when not queued."""
        rank = await self.redis.zrank(self.keys.queue(), cid)
        return 0 if rank is None else int(rank) + 1

    async def events(self, cid: str, after: str = "-", count: int = 1000) -> List[Event]:
        """The conversation's events, oldest first, after stream id ``after`` (exclusive)."""
        start = "-" if after in ("", "-", "0") else f"({after}"
        rows = await self.redis.xrange(self.keys.events(cid), min=start, max="+", count=count)
        return [Event.from_redis(sid, data) for sid, data in rows]

    async def update(self, cid: str, **values: Any) -> None:
        """Sets plain fields (facts, not state) of an existing record."""
        if not values:
            return
        conv = Conversation(cid=cid, **values)  # converts values the same way as a full record
        raw = conv.to_redis()
        key = self.keys.conversation(cid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={k: raw[k] for k in values})
            pipe.expire(key, self.retention)
            await pipe.execute()

    async def record(self, kind: ServiceEventKind, conv: Conversation, **values: Any) -> None:
        """Records a service event of ``conv``'s handoff, with its contact, channel and language (never raises).

        Args:
            kind: What happened.
            conv: The conversation as it stands.
            **values: The event's other fields (``agent``, ``reason``, ``value``...).
        """
        if self.event_log is None:
            return
        values.setdefault("contact", conv.contact)
        values.setdefault("channel", conv.channel)
        values.setdefault("language", conv.language)
        await self.event_log.record(kind, conv.cid, **values)

    async def count_agent_reply(self, cid: str) -> int:
        """Counts an agent's message to the customer; 1 for the first since the handoff was requested."""
        return int(await self.redis.hincrby(self.keys.conversation(cid), "agent_replies", 1))

    # -- transitions ---------------------------------------------------------
    async def request(self, request: HandoffRequest) -> TransitionResult:
        """Moves bot/closed → queued. A conversation already in handoff stays as it is."""
        now = self.clock()
        facts = Conversation(
            cid=request.cid,
            channel=request.channel,
            language=request.language,
            reason=request.reason,
            reference=request.reference,
            priority=request.priority,
            topic=request.topic,
            customer_name=request.customer_name,
            email=request.email,
            phone=request.phone,
            verified_order=request.verified_order,
            asked=[mask_sensitive(text) for text in request.asked],
            found=[mask_sensitive(text) for text in request.found],
            requested_at=now,
            contact=request.contact,
        ).to_redis()
        keep = (
            "channel", "language", "reason", "reference", "priority", "topic", "customer_name",
            "email", "phone", "verified_order", "asked", "found", "requested_at", "contact",
        )
        pairs: List[str] = []
        for name in keep:
            if name in ("email", "phone", "customer_name", "verified_order") and not facts[name]:
                continue  # keep what an earlier handoff of this conversation learnt
            pairs += [name, facts[name]]
        pairs += ["team", "", "summary", "", "next_steps", "", "email_requested", "0"]
        k = self.keys
        raw = await self._request(
            keys=[k.conversation(request.cid), k.events(request.cid), k.feed(), k.queue()],
            args=[request.cid, repr(now), repr(queue_score(request.priority, now)), *pairs],
        )
        return _result(raw)

    async def take(
        self, cid: str, agent_id: str, agent_name: str, capacity: int, *, require_online: bool = True
    ) -> TransitionResult:
        """Moves queued → with_agent, if the agent is online (when required) and has room."""
        k = self.keys
        raw = await self._take(
            keys=[
                k.conversation(cid), k.events(cid), k.feed(), k.queue(),
                k.agent(agent_id), k.agent_chats(agent_id), k.agents_online(),
            ],
            args=[cid, repr(self.clock()), agent_id, agent_name, capacity, "1" if require_online else "0"],
        )
        return _result(raw)

    async def transfer(
        self, cid: str, agent_id: str, *, team: str = "", target_agent: str = "", priority_bonus: int = 1,
        left_by: str = "",
    ) -> TransitionResult:
        """Moves with_agent → queued, for another agent or team; keeps the original wait order.

        A transferred customer has waited already: ``priority_bonus`` puts them ahead of new requests.
        ``left_by`` names an agent who left the customer unanswered: the assigner gives the chat to
        anyone else (``handoff.presence``); the next take clears it.
        """
        conv = await self.get(cid)
        now = self.clock()
        priority = conv.priority if conv else 0
        score = queue_score(priority + priority_bonus, conv.requested_at if conv and conv.requested_at else now)
        k = self.keys
        raw = await self._transfer(
            keys=[k.conversation(cid), k.events(cid), k.feed(), k.queue(), k.agent_chats(agent_id)],
            args=[cid, repr(now), agent_id, repr(score), team, target_agent, left_by],
        )
        return _result(raw)

    async def close(
        self, cid: str, agent_id: str, resolution: str, summary: str = "", next_steps: str = "",
        max_samples: int = 50,
    ) -> TransitionResult:
        """Moves with_agent → closed, by the agent who holds it; records the handling time."""
        k = self.keys
        raw = await self._close(
            keys=[k.conversation(cid), k.events(cid), k.feed(), k.agent_chats(agent_id), k.handle_times(), k.closed()],
            args=[cid, repr(self.clock()), agent_id, resolution, mask_sensitive(summary), mask_sensitive(next_steps),
                  max_samples],
        )
        return _result(raw)

    async def give_up(self, cid: str, why: str = "customer") -> TransitionResult:
        """Moves queued → bot: the customer stopped waiting."""
        return await self._back_to_bot(cid, ConversationState.QUEUED, why)

    async def resume(self, cid: str, why: str = "csat_done") -> TransitionResult:
        """Moves closed → bot: the bot answers again."""
        return await self._back_to_bot(cid, ConversationState.CLOSED, why)

    async def _back_to_bot(self, cid: str, from_state: ConversationState, why: str) -> TransitionResult:
        k = self.keys
        raw = await self._to_bot(
            keys=[k.conversation(cid), k.events(cid), k.feed(), k.queue()],
            args=[cid, repr(self.clock()), from_state.value, why],
        )
        return _result(raw)

    # -- messages ----------------------------------------------------------------
    async def add_event(self, cid: str, event: Event, outbound: Optional[OutboundMessage] = None) -> str:
        """Appends an event (and, atomically, its copy for the customer's channel).

        The stored text has card and ID numbers masked (the customer's channel still gets
        ``outbound`` as written); the conversation's record and events expire ``retention``
        seconds after this event, and the shared streams forget entries older than that.

        Args:
            cid: The conversation.
            event: What happened; ``at`` and ``message_id`` are filled in when empty.
            outbound: The message to deliver to the customer, if any.

        Returns:
            The event's stream id.
        """
        if not event.at:
            event.at = self.clock()
        if not event.message_id:
            event.message_id = outbound.message_id if outbound else uuid.uuid4().hex
        # Masking is linear but not free: an oversized text is masked off the event loop.
        event.text = (mask_sensitive(event.text) if len(event.text) <= MASK_INLINE_CHARS
                      else await asyncio.to_thread(mask_sensitive, event.text))
        k = self.keys
        oldest = self._oldest_stream_id()
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xadd(k.events(cid), event.to_redis(), maxlen=EVENTS_MAXLEN, approximate=True)
            pipe.expire(k.events(cid), self.retention)
            pipe.expire(k.conversation(cid), self.retention)
            if outbound is not None:
                self.outbound_to(pipe, outbound)
                pipe.xtrim(k.outbound(), minid=oldest, approximate=False)
            results = await pipe.execute()
        stream_id = str(results[0])
        event.stream_id = stream_id
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.xadd(k.feed(), {"cid": cid, "kind": event.kind.value, "event_id": stream_id},
                      maxlen=FEED_MAXLEN, approximate=True)
            pipe.xtrim(k.feed(), minid=oldest, approximate=False)
            pipe.expire(k.feed(), self.retention)
            await pipe.execute()
        return stream_id

    def outbound_to(self, pipe: Pipeline, message: OutboundMessage, maxlen: int = FEED_MAXLEN) -> None:
        """Adds a message for a customer to the outbound stream, on a transaction (``MULTI``) pipeline.

        Its id is appended to its conversation's delivery order (``RedisKeys.outbound_order``) in the
        same transaction, so the order is the stream's whichever process queued the message, and the
        delivery workers of every replica send a conversation's messages one after another in it.
        """
        k = self.keys
        pipe.xadd(k.outbound(), message.to_redis(), maxlen=maxlen, approximate=True)
        pipe.rpush(k.outbound_order(message.cid), message.message_id)
        pipe.expire(k.outbound_order(message.cid), min(OUTBOUND_ORDER_TTL_SECONDS, self.retention))

    async def queue_outbound(self, message: OutboundMessage, maxlen: int = FEED_MAXLEN) -> None:
        """Puts a message for a customer on the outbound stream, in its conversation's delivery order."""
        async with self.redis.pipeline(transaction=True) as pipe:
            self.outbound_to(pipe, message, maxlen)
            await pipe.execute()

    def _oldest_stream_id(self) -> str:
        """The stream id before which shared streams are trimmed (their ids are wall-clock milliseconds)."""
        return str(max(0, int((time.time() - self.retention) * 1000)))

    async def tell_customer(
        self,
        conv: Conversation,
        text: str,
        *,
        kind: EventKind = EventKind.SYSTEM,
        author: str = "kesher",
        author_name: str = "",
        buttons: Tuple[Tuple[str, str], ...] = (),
        data: Optional[Dict[str, Any]] = None,
    ) -> Event:
        """Records a message to the customer and queues it for their channel.

        Returns:
            The stored event (with its stream id).
        """
        message_id = uuid.uuid4().hex
        outbound = OutboundMessage(
            message_id=message_id,
            cid=conv.cid,
            channel=conv.channel,
            text=text,
            buttons=buttons,
            kind=kind.value,
            author_name=author_name,
        )
        extra = dict(data or {})
        if buttons:
            extra["buttons"] = [list(b) for b in buttons]
        event = Event(kind=kind, text=text, author=author, author_name=author_name,
                      message_id=message_id, data=extra)
        await self.add_event(conv.cid, event, outbound)
        return event

    async def handle_times(self) -> List[float]:
        """Recent handling times in seconds, newest first."""
        return [float(x) for x in await self.redis.lrange(self.keys.handle_times(), 0, -1)]

    async def record_history(self, conv: Conversation) -> None:
        """Keeps a short record of a closed handoff under the customer, for later agents.

        The customer's list keeps the last 50 handoffs and expires ``retention`` seconds after the newest.
        """
        entry = json.dumps(
            {
                "cid": conv.cid, "reference": conv.reference, "reason": conv.reason,
                "resolution": conv.resolution, "agent": conv.agent_name, "closed_at": conv.closed_at,
                "summary": conv.summary, "channel": conv.channel,
            },
            ensure_ascii=False,
        )
        key = self.keys.history(conv.customer_key)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.lpush(key, entry)
            pipe.ltrim(key, 0, HISTORY_LENGTH - 1)
            pipe.expire(key, self.retention)
            await pipe.execute()

    async def history(self, customer_key: str) -> List[Dict[str, Any]]:
        """Earlier handoffs of a customer, newest first."""
        return [json.loads(x) for x in await self.redis.lrange(self.keys.history(customer_key), 0, -1)]
