"""Emitting service events: one ``XADD`` on the ``service-events`` stream, never in the caller's way.

Any process (the channels, ``rasa run``'s tracker store, the action server, the handoff
service) records what happened with :meth:`EventLog.record`. The event goes on a Redis
stream (:meth:`core.redis_keys.RedisKeys.service_events`); the handoff service's mover
(``analytics/mover.py``) writes it into the SQL event log and acknowledges it only then,
so a database outage delays events and loses none. Recording never raises: a customer's
turn does not fail because the log could not be written (the failure is logged).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any, Optional

from redis.asyncio import Redis
from redis.asyncio.client import Pipeline
from redis.exceptions import RedisError

from core.redis_keys import RedisKeys
from core.service_events import ServiceEvent

__all__ = ["SERVICE_EVENTS_MAXLEN", "EventLog"]

logger = logging.getLogger(__name__)

# The stream is a buffer, not the store: the mover keeps it short. The cap only bounds Redis's memory
# if the mover stays down for days (about 2 KB per event in the worst case: ~4 GB at the cap).
SERVICE_EVENTS_MAXLEN = 2_000_000


class EventLog:
    """Puts :class:`ServiceEvent` records on the service-events stream."""

    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        """Keeps the client; nothing connects here.

        Args:
            redis: ``redis.asyncio`` client (any ``decode_responses``).
            keys: Where the stream lives.
        """
        self._redis = redis
        self._key = keys.service_events()

    @staticmethod
    def event(kind: str, conversation: str, **values: Any) -> ServiceEvent:
        """A :class:`ServiceEvent` stamped now (UTC)."""
        return ServiceEvent(kind=str(kind), conversation=conversation, at=datetime.now(UTC), **values)

    def add_to(self, pipe: Pipeline, event: ServiceEvent) -> None:
        """Adds the event to a pipeline the caller executes anyway (no extra round trip)."""
        pipe.xadd(self._key, event.to_fields(), maxlen=SERVICE_EVENTS_MAXLEN, approximate=True)

    async def record(self, kind: str, conversation: str, **values: Any) -> Optional[str]:
        """Records one event; returns its stream id, or None if Redis refused (logged, never raised).

        Args:
            kind: An :class:`core.service_events.EventKind` value.
            conversation: The conversation id.
            **values: The other :class:`ServiceEvent` fields.
        """
        event = self.event(kind, conversation, **values)
        try:
            entry_id = await self._redis.xadd(
                self._key, event.to_fields(), maxlen=SERVICE_EVENTS_MAXLEN, approximate=True
            )
        except RedisError as exc:
            logger.warning("service event %s not recorded: %s", kind, exc)
            return None
        return entry_id.decode() if isinstance(entry_id, bytes) else str(entry_id)
