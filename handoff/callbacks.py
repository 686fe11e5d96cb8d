""""Call me back" requests: what the bot took down, listed for agents, closed with an outcome.

The bot's callback form (``actions/callback.py``) asks the number and a preferred time within business
hours and files a :class:`CallbackRequest` here instead of queueing a chat. Agents see the open ones,
soonest first, on the console's ``/console/callbacks`` page and close each with an outcome. Each request is
a Redis hash (``RedisKeys.callback``), indexed by preferred time while open and by closing time once
closed; every request and closing is an event-log ``callback`` event. Closed requests expire after
:data:`CLOSED_TTL_SECONDS` (the phone number is customer data).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Callable, List, Mapping, Optional

from redis.asyncio import Redis

from core.errors import Conflict, InvalidInput, NotFound
from core.redis_keys import RedisKeys
from core.service_events import EventKind
from handoff.event_log import EventLog

__all__ = ["CLOSED_TTL_SECONDS", "OUTCOMES", "CallbackBook", "CallbackRequest"]

# How an agent may close a callback request.
OUTCOMES = ("reached", "no_answer", "wrong_number", "not_needed")
CLOSED_TTL_SECONDS = 30 * 86400
CLOSED_SHOWN = 50
_CLOSE = """
if redis.call('HGET', KEYS[1], 'state') ~= 'open' then return 0 end
redis.call('HSET', KEYS[1], 'state', 'closed', 'outcome', ARGV[1], 'closed_by', ARGV[2], 'closed_at', ARGV[3],
           'note', ARGV[5])
redis.call('EXPIRE', KEYS[1], tonumber(ARGV[4]))
redis.call('ZREM', KEYS[2], ARGV[6])
redis.call('ZADD', KEYS[3], ARGV[3], ARGV[6])
return 1
"""


@dataclass(frozen=True)
class CallbackRequest:
    """One "call me back" request.

    Attributes:
        callback_id: Its id (also its reference, ``CB-XXXXXX``).
        cid: The conversation it came from.
        channel: The customer's channel.
        language: The customer's language.
        phone: The number to call (as the customer gave it, checked).
        preferred_at: Epoch seconds of the start of the preferred window.
        requested_at: Epoch seconds of the request.
        state: ``open`` or ``closed``.
        outcome: How it ended (one of :data:`OUTCOMES`) once closed.
        closed_by: The agent who closed it.
        closed_at: Epoch seconds it was closed (0 while open).
        note: The agent's note.
    """

    callback_id: str
    cid: str
    channel: str
    language: str
    phone: str
    preferred_at: float
    requested_at: float
    state: str = "open"
    outcome: str = ""
    closed_by: str = ""
    closed_at: float = 0.0
    note: str = ""

    @classmethod
    def from_hash(cls, callback_id: str, raw: Mapping[str, str]) -> CallbackRequest:
        """Reads one stored hash."""
        return cls(callback_id=callback_id, cid=raw.get("cid", ""), channel=raw.get("channel", ""),
                   language=raw.get("language", "en"), phone=raw.get("phone", ""),
                   preferred_at=float(raw.get("preferred_at") or 0), requested_at=float(raw.get("requested_at") or 0),
                   state=raw.get("state", "open"), outcome=raw.get("outcome", ""), closed_by=raw.get("closed_by", ""),
                   closed_at=float(raw.get("closed_at") or 0), note=raw.get("note", ""))


class CallbackBook:
    """The callback requests in Redis."""

    def __init__(self, redis: Redis, keys: RedisKeys, events: Optional[EventLog] = None,
                 clock: Callable[[], float] = time.time) -> None:
        """Keeps the client; nothing connects here.

        Args:
            redis: ``redis.asyncio`` client with ``decode_responses=True``.
            keys: Where the requests live.
            events: The event log (None: nothing recorded).
            clock: Epoch seconds now (tests fix it).
        """
        self.redis = redis
        self.keys = keys
        self.events = events
        self.clock = clock

    async def create(self, cid: str, channel: str, language: str, phone: str, preferred_at: float) -> CallbackRequest:
        """Files a request and returns it.

        Raises:
            InvalidInput: No number or no time.
        """
        if not phone or preferred_at <= 0:
            raise InvalidInput("a callback needs a phone number and a time")
        request = CallbackRequest(callback_id=f"CB-{secrets.token_hex(3).upper()}", cid=cid, channel=channel,
                                  language=language, phone=phone, preferred_at=preferred_at,
                                  requested_at=self.clock())
        pipe = self.redis.pipeline(transaction=True)
        pipe.hset(self.keys.callback(request.callback_id), mapping={
            "cid": cid, "channel": channel, "language": language, "phone": phone,
            "preferred_at": f"{preferred_at:.0f}", "requested_at": f"{request.requested_at:.3f}", "state": "open"})
        pipe.zadd(self.keys.callbacks_open(), {request.callback_id: preferred_at})
        await pipe.execute()
        if self.events is not None:
            await self.events.record(EventKind.CALLBACK, cid, channel=channel, language=language, reason="requested",
                                     text=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(preferred_at)))
        return request

    async def get(self, callback_id: str) -> CallbackRequest:
        """One request.

        Raises:
            NotFound: No such request (or it expired).
        """
        raw = await self.redis.hgetall(self.keys.callback(callback_id))
        if not raw:
            raise NotFound(f"no callback request {callback_id}")
        return CallbackRequest.from_hash(callback_id, raw)

    async def open_requests(self) -> List[CallbackRequest]:
        """The open requests, soonest preferred time first."""
        return await self._read(await self.redis.zrange(self.keys.callbacks_open(), 0, -1))

    async def closed_requests(self, limit: int = CLOSED_SHOWN) -> List[CallbackRequest]:
        """The most recently closed requests, newest first."""
        return await self._read(await self.redis.zrevrange(self.keys.callbacks_closed(), 0, limit - 1))

    async def close(self, callback_id: str, outcome: str, agent: str, note: str = "") -> CallbackRequest:
        """Closes an open request with an outcome.

        Raises:
            InvalidInput: An outcome not in :data:`OUTCOMES`.
            NotFound: No such request.
            Conflict: It was closed already.
        """
        if outcome not in OUTCOMES:
            raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}")
        request = await self.get(callback_id)
        now = self.clock()
        closed = await self.redis.eval(
            _CLOSE, 3, self.keys.callback(callback_id), self.keys.callbacks_open(), self.keys.callbacks_closed(),
            outcome, agent, f"{now:.3f}", str(CLOSED_TTL_SECONDS), note[:500], callback_id)
        if not closed:
            raise Conflict(f"callback request {callback_id} is closed already")
        if self.events is not None:
            await self.events.record(EventKind.CALLBACK, request.cid, channel=request.channel,
                                     language=request.language, reason="closed", outcome=outcome, agent=agent,
                                     value=round(now - request.requested_at, 1))
        return await self.get(callback_id)

    async def _read(self, ids: List[str]) -> List[CallbackRequest]:
        if not ids:
            return []
        pipe = self.redis.pipeline(transaction=False)
        for callback_id in ids:
            pipe.hgetall(self.keys.callback(callback_id))
        return [CallbackRequest.from_hash(i, raw) for i, raw in zip(ids, await pipe.execute(), strict=True) if raw]
