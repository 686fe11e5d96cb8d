"""Sends every message on the outbound stream through its customer's channel, once.

Bot replies, agent answers and the service's notices all go through the
Redis stream ``outbound``. Each ``rasa run`` process reads it in one consumer
group, so a message goes to one process; a ``SET NX`` per message id makes a
redelivery (after a crash, entries are claimed again) a no-op. Messages of one
conversation go out in order; different conversations are sent concurrently.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
from dataclasses import dataclass
from typing import Dict, List, Mapping, Protocol, Tuple

from redis.exceptions import RedisError, ResponseError

from handoff.models import OutboundMessage
from handoff.state import HandoffStore

__all__ = ["GROUP", "DeliveryError", "DeliveryTimings", "DeliveryWorker", "Sender", "Undeliverable"]

log = logging.getLogger(__name__)

GROUP = "delivery"
DELIVERED_TTL_SECONDS = 7 * 24 * 3600
CLAIM_IDLE_MS = 15_000
RECLAIM_EVERY_SECONDS = 5.0


class DeliveryError(RuntimeError):
    """A channel could not send a message now; it is retried."""


class Undeliverable(DeliveryError):
    """A message can never be sent (no address on the channel, the customer blocked us); it is dropped."""


class Sender(Protocol):
    """A channel as the worker sees it: it sends one message to its customer."""

    async def deliver(self, message: OutboundMessage) -> None:
        """Sends ``message``.

        Raises:
            DeliveryError: Not sent now; retried.
            Undeliverable: Can never be sent; dropped.
        """
        ...


@dataclass(frozen=True)
class DeliveryTimings:
    """How patient the delivery worker is.

    Attributes:
        claim_idle_ms: How long a message read by another consumer may stay unacknowledged
            before this one takes it over (that consumer is presumed dead).
        reclaim_every_seconds: How often to look for such messages.
        block_ms: Longest wait for new messages in one read.
    """

    claim_idle_ms: int = CLAIM_IDLE_MS
    reclaim_every_seconds: float = RECLAIM_EVERY_SECONDS
    block_ms: int = 1000


class DeliveryWorker:
    """Reads the outbound stream and delivers each message once."""

    def __init__(self, store: HandoffStore, channels: Mapping[str, Sender],
                 timings: DeliveryTimings = DeliveryTimings()) -> None:
        """Keeps the store and the channels by name.

        Args:
            store: For the Redis client and keys.
            channels: The channels this process can send through (the caller may add to it later).
            timings: How long to wait before taking over, retrying and reading.
        """
        self.store = store
        self.channels = channels
        self.consumer = f"{socket.gethostname()}-{os.getpid()}"
        self.timings = timings

    async def _ensure_group(self) -> None:
        try:
            await self.store.redis.xgroup_create(self.store.keys.outbound(), GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def run(self, stop: asyncio.Event) -> None:
        """Delivers until ``stop`` is set; a failed send stays pending and is retried."""
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
                got = await redis.xreadgroup(GROUP, self.consumer, {stream: ">"}, count=200,
                                             block=self.timings.block_ms)
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

    async def _reclaim(self) -> None:
        """Takes over messages another (crashed) consumer read but never acknowledged."""
        redis, stream = self.store.redis, self.store.keys.outbound()
        result = await redis.xautoclaim(stream, GROUP, self.consumer, min_idle_time=self.timings.claim_idle_ms,
                                        count=200)
        await self.deliver_batch(list(result[1]) if len(result) > 1 else [])

    async def deliver(self, entry_id: str, fields: Dict[str, str]) -> bool:
        """Sends one stream entry; True once it is out (or was already)."""
        redis, keys = self.store.redis, self.store.keys
        message = OutboundMessage.from_redis(fields)
        done_key = keys.delivered(message.message_id)
        if await redis.get(done_key) == "sent":
            await redis.xack(keys.outbound(), GROUP, entry_id)
            return True
        # One sender at a time per message; the lease expires if this process dies.
        if not await redis.set(done_key, f"sending:{self.consumer}", nx=True, ex=60):
            return False
        channel = self.channels.get(message.channel)
        try:
            if channel is None:
                log.warning("delivery: no channel %r in this process for %s; dropped",
                            message.channel, message.message_id)
            else:
                await channel.deliver(message)
        except Undeliverable as exc:
            log.warning("delivery of %s via %s impossible: %s; dropped", message.message_id, message.channel, exc)
            await redis.hset(keys.delivery_status(message.cid), message.message_id, "undeliverable")
        except DeliveryError as exc:
            log.warning("delivery of %s via %s failed: %s; will retry", message.message_id, message.channel, exc)
            await redis.delete(done_key)
            return False
        await redis.set(done_key, "sent", ex=DELIVERED_TTL_SECONDS)
        await redis.xack(keys.outbound(), GROUP, entry_id)
        return True
