"""``GET /metrics`` on a Sanic app: the process's counters, gauges read at scrape time, a failing reader."""

from __future__ import annotations

import asyncio
from typing import List

import pytest
from prometheus_client import Counter
from prometheus_client.metrics_core import Metric
from redis.exceptions import ConnectionError as RedisConnectionError
from sanic import Sanic

from edge.metrics import gauge, setup_metrics
from tests.helpers.metrics import scrape
from tests.helpers.sanic_server import serving

pytestmark = pytest.mark.asyncio

PINGS = Counter("kesher_test_pings", "Pings in this test.", ["kind"])


async def test_counters_and_gauges_read_at_scrape_time_in_prometheus_text_format() -> None:
    level = {"now": 3.0}

    async def reader() -> List[Metric]:
        return [gauge("kesher_test_level", "A level read now.", level["now"]),
                gauge("kesher_test_labelled", "A labelled level.", 7, {"queue": "vip"})]

    app = Sanic("metrics-basic")
    setup_metrics(app, [reader])
    setup_metrics(app, [reader])  # a second call (a second channel) adds nothing
    async with serving(app) as base:
        before = await scrape(base)
        PINGS.labels("a").inc(2)
        level["now"] = 5.0
        after = await scrape(base)
    assert after.value("kesher_test_pings_total", kind="a") - before.value("kesher_test_pings_total", kind="a") == 2
    assert before.value("kesher_test_level") == 3.0 and after.value("kesher_test_level") == 5.0
    assert after.value("kesher_test_labelled", queue="vip") == 7
    assert after.types["kesher_test_level"] == "gauge" and after.types["kesher_test_pings"] == "counter"


async def test_a_failing_or_slow_reader_is_left_out_and_the_rest_still_served() -> None:
    async def broken() -> List[Metric]:
        raise RedisConnectionError("redis is down")

    async def slow() -> List[Metric]:
        await asyncio.Event().wait()  # never answers
        return []

    async def fine() -> List[Metric]:
        return [gauge("kesher_test_fine", "Still here.", 1)]

    app = Sanic("metrics-failing")
    setup_metrics(app, [broken, slow, fine], timeout=0.2)
    async with serving(app) as base:
        first = await scrape(base)
        second = await scrape(base)
    assert second.value("kesher_test_fine") == 1
    failures = [k for k in second.samples if k[0] == "kesher_metrics_gauge_failures_total"]
    assert len(failures) == 2  # one series per failing reader
    for name, labels in failures:
        assert second.samples[(name, labels)] - first.samples.get((name, labels), 0) == 1
