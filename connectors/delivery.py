"""Sends every message on the outbound stream through its customer's channel, once, or gives up on it.

Bot replies, agent answers and the service's notices all go through the
Redis stream ``outbound``. Each ``rasa run`` process reads it in one consumer
group, so a message goes to one process; a ``SET NX`` per message id makes a
redelivery (after a crash, entries are claimed again) a no-op. Different
conversations are sent concurrently; a conversation's messages go out one after
another in the order they were queued, even when consecutive ones were read by
workers in different processes: each is sent only once it heads its
conversation's delivery order (``RedisKeys.outbound_order``, pushed with the
stream entry and popped when the message is sent or given up on). A message
whose predecessor another worker holds waits here, checked again every few
milliseconds; if that worker died, its entries are claimed after
:attr:`DeliveryTimings.claim_idle_ms` and the conversation goes on.

A send that fails for now (the provider is down) stays pending and is tried
again after a wait that doubles with each failure, at most
:attr:`DeliveryTimings.attempts` times in all. A message the provider refuses,
or one that failed that many times, is given up on: it goes to the undelivered
list (a capped Redis stream, trimmed by age and expiring like other personal
data), which agents see on the console's ``/console/undelivered`` page.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Dict, List, Mapping, Protocol, Tuple

from redis.exceptions import RedisError, ResponseError

from connectors.metrics import DELIVERIES, DELIVERY_FAILURES
from core.settings import Settings
from handoff.models import OutboundMessage
from handoff.state import HandoffStore

__all__ = [
    "GROUP",
    "UNDELIVERED_MAXLEN",
    "DeliveryError",
    "DeliveryTimings",
    "DeliveryWorker",
    "Sender",
    "Undeliverable",
]

log = logging.getLogger(__name__)

GROUP = "delivery"
DELIVERED_TTL_SECONDS = 7 * 24 * 3600
CLAIM_IDLE_MS = 15_000
RECLAIM_EVERY_SECONDS = 5.0
UNDELIVERED_MAXLEN = 10_000
MAX_ERROR_CHARS = 500
# A message waiting for its conversation's earlier one is checked again after this, doubling up to the cap.
ORDER_POLL_SECONDS = 0.01
ORDER_POLL_MAX_SECONDS = 1.0
SENT = "sent"
GAVE_UP = "gave_up"


class DeliveryError(RuntimeError):
    """A channel could not send a message now; it is retried (a bounded number of times)."""


class Undeliverable(DeliveryError):
    """A message can never be sent (no address on the channel, the customer blocked us); it is given up on."""


class Sender(Protocol):
    """A channel as the worker sees it: it sends one message to its customer."""

    async def deliver(self, message: OutboundMessage) -> None:
        """Sends ``message``.

        Raises:
            DeliveryError: Not sent now; retried, then given up on.
            Undeliverable: Can never be sent; given up on at once.
        """
        ...


@dataclass(frozen=True)
class DeliveryTimings:
    """How patient the delivery worker is.

    Attributes:
        claim_idle_ms: How long a message read by another consumer may stay unacknowledged
            before this one takes it over (that consumer is presumed dead); also the shortest
            wait between two attempts at a failed message.
        reclaim_every_seconds: How often to look for such messages.
        block_ms: Longest wait for new messages in one read.
        attempts: Attempts at one message before it goes to the undelivered list.
        backoff_seconds: Wait after the first failed attempt; doubled after each further one.
        backoff_max_seconds: Longest wait between two attempts.
        keep_undelivered_seconds: How long the undelivered list keeps a message.
    """

    claim_idle_ms: int = CLAIM_IDLE_MS
    reclaim_every_seconds: float = RECLAIM_EVERY_SECONDS
    block_ms: int = 1000
    attempts: int = 8
    backoff_seconds: float = 5.0
    backoff_max_seconds: float = 600.0
    keep_undelivered_seconds: int = 30 * 24 * 3600

    @classmethod
    def from_settings(cls, settings: Settings) -> DeliveryTimings:
        """The timings the settings give (``KESHER_DELIVERY_*``, ``KESHER_UNDELIVERED_DAYS``)."""
        return cls(
            attempts=settings.delivery_attempts,
            backoff_seconds=settings.delivery_backoff_seconds,
            backoff_max_seconds=settings.delivery_backoff_max_seconds,
            keep_undelivered_seconds=settings.undelivered_days * 24 * 3600,
        )

    def backoff(self, failures: int) -> float:
        """Seconds to wait after ``failures`` failed attempts: ``backoff_seconds`` doubled each time, capped."""
        return float(min(self.backoff_max_seconds, self.backoff_seconds * 2 ** max(0, failures - 1)))


class DeliveryWorker:
    """Reads the outbound stream and delivers each message once."""

    def __init__(self, store: HandoffStore, channels: Mapping[str, Sender],
                 timings: DeliveryTimings = DeliveryTimings(), clock: Callable[[], float] = time.time) -> None:
        """Keeps the store and the channels by name.

        Args:
            store: For the Redis client and keys.
            channels: The channels this process can send through (the caller may add to it later).
            timings: How long to wait before taking over, retrying and reading; how often to try.
            clock: Epoch seconds (shared by every process: a retry's due time is kept in Redis).
        """
        self.store = store
        self.channels = channels
        # Unique per worker: two runtimes in one process are two consumers, each with its own pending entries.
        self.consumer = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.timings = timings
        self.clock = clock
        # Entries read here that wait for an earlier message of their conversation: id → (fields, due, pause).
        self._waiting: Dict[str, Tuple[Dict[str, str], float, float]] = {}

    async def _ensure_group(self) -> None:
        try:
            await self.store.redis.xgroup_create(self.store.keys.outbound(), GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        """Delivers until ``stop`` is set; a failed send stays pending and is retried after its backoff."""
        redis, stream = self.store.redis, self.store.keys.outbound()
        group_ready = False
        next_reclaim = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            try:
                if not group_ready:
                    await self._ensure_group()
                    group_ready = True
                if loop.time() >= next_reclaim:
                    await self._reclaim()
                    next_reclaim = loop.time() + self.timings.reclaim_every_seconds
                await self._retry_waiting(loop.time())
                block = self.timings.block_ms
                if self._waiting:
                    soonest = min(due for _, due, _ in self._waiting.values())
                    block = max(1, min(block, int((soonest - loop.time()) * 1000)))
                got = await redis.xreadgroup(GROUP, self.consumer, {stream: ">"}, count=200, block=block)
                for _, entries in got or []:
                    await self.deliver_batch(entries)
            except ResponseError as exc:
                if "NOGROUP" in str(exc):
                    group_ready = False  # the stream was deleted (e.g. FLUSHALL): make the group again
                    continue
                log.warning("delivery: redis error %s; retrying", exc)
                await asyncio.sleep(1)
            except RedisError as exc:
                log.warning("delivery: redis error %s; retrying", exc)
                await asyncio.sleep(1)

    async def deliver_batch(self, entries: List[Tuple[str, Dict[str, str]]]) -> None:
        """Delivers entries: each conversation's in order, different conversations at once."""
        by_conversation: Dict[str, List[Tuple[str, Dict[str, str]]]] = {}
        for entry_id, fields in entries:
            by_conversation.setdefault(fields.get("cid", ""), []).append((entry_id, fields))

        async def in_order(items: List[Tuple[str, Dict[str, str]]]) -> None:
            for entry_id, fields in items:
                if fields:
                    await self.deliver(entry_id, fields)

        await asyncio.gather(*(in_order(items) for items in by_conversation.values()))

    async def _retry_waiting(self, now: float) -> None:
        """Tries again, in stream order, the waiting entries whose next check is due."""
        due = sorted((entry_id for entry_id, (_, at, _) in self._waiting.items() if at <= now), key=_stream_order)
        if due:
            await self.deliver_batch([(entry_id, self._waiting[entry_id][0]) for entry_id in due])

    def _wait_for_turn(self, entry_id: str, fields: Dict[str, str]) -> None:
        """Keeps an entry whose conversation has an earlier message unsent; checked again soon, then less often."""
        _, _, pause = self._waiting.get(entry_id, (fields, 0.0, ORDER_POLL_SECONDS / 2))
        pause = min(pause * 2, ORDER_POLL_MAX_SECONDS)
        self._waiting[entry_id] = (fields, asyncio.get_running_loop().time() + pause, pause)

    async def _reclaim(self) -> None:
        """Takes over messages another (crashed) consumer read but never acknowledged."""
        redis, stream = self.store.redis, self.store.keys.outbound()
        if self._waiting:  # still ours: reset their idle time, so no other consumer takes them over
            await redis.xclaim(stream, GROUP, self.consumer, 0, list(self._waiting), justid=True)
        result = await redis.xautoclaim(stream, GROUP, self.consumer, min_idle_time=self.timings.claim_idle_ms,
                                        count=200)
        await self.deliver_batch(list(result[1]) if len(result) > 1 else [])

    async def deliver(self, entry_id: str, fields: Dict[str, str]) -> bool:
        """Sends one stream entry, or gives up on it.

        Returns:
            True once the entry is done with (sent now or before, or given up on); False while
            it waits for another attempt (or another consumer is sending it).
        """
        redis, keys = self.store.redis, self.store.keys
        message = OutboundMessage.from_redis(fields)
        done_key = keys.delivered(message.message_id)
        order_key = keys.outbound_order(message.cid)
        self._waiting.pop(entry_id, None)
        if await redis.get(done_key) in (SENT, GAVE_UP):
            async with redis.pipeline(transaction=True) as pipe:
                pipe.lrem(order_key, 1, message.message_id)
                pipe.xack(keys.outbound(), GROUP, entry_id)
                await pipe.execute()
            return True
        # Its turn only once every earlier message of the conversation is sent or given up on (None:
        # queued before the order was kept, or the order expired: sent at once).
        if await redis.lpos(order_key, message.message_id):
            self._wait_for_turn(entry_id, fields)
            return False
        tried = await redis.hgetall(keys.delivery_attempts(message.message_id))
        if tried and float(tried.get("next_at") or 0) > self.clock():
            return False  # still waiting out its backoff; taken up again later
        # One sender at a time per message; the lease expires if this process dies.
        if not await redis.set(done_key, f"sending:{self.consumer}", nx=True, ex=60):
            return False
        failures = int(tried.get("failures") or 0) if tried else 0
        try:
            channel = self.channels.get(message.channel)
            if channel is None:
                raise DeliveryError(f"no channel {message.channel!r} in this process")
            await channel.deliver(message)
        except Undeliverable as exc:
            log.warning("delivery of %s via %s refused: %s; given up", message.message_id, message.channel, exc)
            DELIVERY_FAILURES.labels(message.channel, "refused").inc()
            await self._give_up(entry_id, message, str(exc), failures + 1, refused=True)
            return True
        except DeliveryError as exc:
            return await self._failed(entry_id, message, str(exc), failures + 1)
        except RedisError:
            raise  # Redis itself: the run loop waits and goes on; the lease expires
        except Exception as exc:  # a channel's bug must not stop the worker: counted like any failure
            log.exception("delivery of %s via %s raised", message.message_id, message.channel)
            return await self._failed(entry_id, message, f"{type(exc).__name__}: {exc}", failures + 1)
        async with redis.pipeline(transaction=True) as pipe:
            pipe.set(done_key, SENT, ex=DELIVERED_TTL_SECONDS)
            pipe.delete(keys.delivery_attempts(message.message_id))
            pipe.lrem(order_key, 1, message.message_id)
            pipe.xack(keys.outbound(), GROUP, entry_id)
            await pipe.execute()
        DELIVERIES.labels(message.channel).inc()
        return True

    async def _failed(self, entry_id: str, message: OutboundMessage, error: str, failures: int) -> bool:
        """Schedules the next attempt after a failed one, or gives up after the last; True when given up."""
        redis, keys = self.store.redis, self.store.keys
        if failures >= self.timings.attempts:
            log.error("delivery of %s via %s failed %d times, last: %s; given up, kept in the undelivered list",
                      message.message_id, message.channel, failures, error)
            DELIVERY_FAILURES.labels(message.channel, "given_up").inc()
            await self._give_up(entry_id, message, error, failures, refused=False)
            return True
        wait = self.timings.backoff(failures)
        DELIVERY_FAILURES.labels(message.channel, "retry").inc()
        log.warning("delivery of %s via %s failed (attempt %d of %d): %s; next attempt in %.1f s",
                    message.message_id, message.channel, failures, self.timings.attempts, error, wait)
        attempts_key = keys.delivery_attempts(message.message_id)
        async with redis.pipeline(transaction=True) as pipe:
            pipe.hset(attempts_key, mapping={"failures": failures, "next_at": repr(self.clock() + wait),
                                             "error": error[:MAX_ERROR_CHARS]})
            pipe.expire(attempts_key, DELIVERED_TTL_SECONDS)
            pipe.delete(keys.delivered(message.message_id))  # the lease: any consumer may try next
            await pipe.execute()
        return False

    async def _give_up(self, entry_id: str, message: OutboundMessage, error: str, attempts: int,
                       *, refused: bool) -> None:
        """Moves a message to the undelivered list (capped, trimmed by age, expiring) and off the stream."""
        redis, keys = self.store.redis, self.store.keys
        now = self.clock()
        keep = self.timings.keep_undelivered_seconds
        entry = {
            "message_id": message.message_id, "cid": message.cid, "channel": message.channel,
            "kind": message.kind, "text": message.text, "error": error[:MAX_ERROR_CHARS],
            "attempts": str(attempts), "refused": "1" if refused else "0", "at": repr(now),
        }
        async with redis.pipeline(transaction=True) as pipe:
            pipe.xadd(keys.undelivered(), entry, maxlen=UNDELIVERED_MAXLEN, approximate=True)
            pipe.xtrim(keys.undelivered(), minid=str(int((now - keep) * 1000)), approximate=False)
            pipe.expire(keys.undelivered(), keep)
            pipe.hset(keys.delivery_status(message.cid), message.message_id, "undeliverable")
            pipe.expire(keys.delivery_status(message.cid), DELIVERED_TTL_SECONDS)
            pipe.set(keys.delivered(message.message_id), GAVE_UP, ex=DELIVERED_TTL_SECONDS)
            pipe.delete(keys.delivery_attempts(message.message_id))
            pipe.lrem(keys.outbound_order(message.cid), 1, message.message_id)
            pipe.xack(keys.outbound(), GROUP, entry_id)
            await pipe.execute()


def _stream_order(entry_id: str) -> Tuple[int, int]:
    """A stream id as numbers, for sorting entries in stream order."""
    ms, _, seq = entry_id.partition("-")
    return int(ms), int(seq or 0)
