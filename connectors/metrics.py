"""What ``rasa run``'s channels count for Prometheus, and the gauges its ``/metrics`` reads.

The turns themselves (by outcome) are counted where Rasa saves them (``bot/metrics.py``);
here: how long the bot took per message, deliveries and their failures, and the
undelivered list. Every metric is listed in
``docs/operations.md``.
"""

from __future__ import annotations

from typing import List

from prometheus_client import Counter, Histogram
from prometheus_client.metrics_core import Metric
from redis.asyncio import Redis

from core.redis_keys import RedisKeys
from edge.metrics import gauge

__all__ = ["DELIVERIES", "DELIVERY_FAILURES", "TURN_SECONDS", "read_channel_gauges"]

# From a cached FAQ answer (~0.05 s) to a turn waiting on the action server and the orders database.
TURN_SECONDS = Histogram("kesher_turn_seconds", "Seconds from a customer message reaching the bot to the bot "
                         "being done with it (replies queued), by channel.", ["channel"],
                         buckets=(0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0))
DELIVERIES = Counter("kesher_deliveries", "Messages (the bot's and agents') sent to customers, by channel.",
                     ["channel"])
DELIVERY_FAILURES = Counter("kesher_delivery_failures", "Failed attempts to send a message to a customer, by "
                            "channel and result: retry (tried again later), given_up (after the last attempt) "
                            "or refused (the provider will never take it).", ["channel", "result"])


async def read_channel_gauges(redis: Redis, keys: RedisKeys) -> List[Metric]:
    """The undelivered list's length (one ``XLEN``)."""
    undelivered = await redis.xlen(keys.undelivered())
    return [gauge("kesher_undelivered", "Messages given up on and kept for agents at /console/undelivered.",
                  float(undelivered))]
