"""The handoff service's gauges for Prometheus, read from Redis at each scrape of ``/metrics``.

One Redis round trip plus at most one ``XINFO GROUPS``: the queue's length, agents online,
chats open with agents, the mail outbox, and the event log's stream. The counters are
``handoff/metrics.py``'s; every metric is listed in ``docs/operations.md``.
"""

from __future__ import annotations

import time
from typing import Any, Dict, List, Sequence

from prometheus_client.metrics_core import Metric
from redis.asyncio import Redis

from core.redis_keys import RedisKeys
from edge.metrics import gauge

__all__ = ["read_handoff_gauges"]


def _backlog(groups: Sequence[Dict[str, Any]], length: int) -> int:
    """Entries a consumer group has not acknowledged: the worst group's lag plus its pending ones."""
    if not groups:
        return length  # no mover has read the stream yet
    worst = 0
    for group in groups:
        lag = group.get("lag")
        worst = max(worst, int(group.get("pending") or 0) + (int(lag) if lag is not None else length))
    return worst


async def read_handoff_gauges(redis: Redis, keys: RedisKeys, agent_ids: Sequence[str]) -> List[Metric]:
    """The handoff service's gauges, read now.

    Args:
        redis: The handoff's Redis.
        keys: Its keys.
        agent_ids: Every agent in the directory (open chats are counted per agent).
    """
    pipe = redis.pipeline(transaction=False)
    pipe.zcard(keys.queue())
    pipe.scard(keys.agents_online())
    pipe.zcard(keys.mail_due())
    pipe.zcount(keys.mail_due(), "-inf", time.time())
    pipe.xlen(keys.service_events())
    for agent_id in agent_ids:
        pipe.scard(keys.agent_chats(agent_id))
    queue, online, outbox, due, stream, *chats = await pipe.execute()
    groups = await redis.xinfo_groups(keys.service_events()) if stream else []
    return [
        gauge("kesher_queue_length", "Conversations waiting in the queue for an agent.", queue),
        gauge("kesher_agents_online", "Agents whose presence is online.", online),
        gauge("kesher_open_chats", "Conversations with an agent now.", sum(chats)),
        gauge("kesher_mail_outbox", "E-mail jobs not sent yet (queued, or waiting to be retried).", outbox),
        gauge("kesher_mail_outbox_due", "E-mail jobs due to be sent now (a growing number: the SMTP server is "
              "down or the worker behind).", due),
        gauge("kesher_service_events_stream_length", "Entries on the service-events stream (the event log's "
              "buffer in Redis).", stream),
        gauge("kesher_service_events_backlog", "Service events not yet written to the event log's database "
              "(the mover's unread plus unacknowledged entries).", _backlog(groups, stream)),
    ]
