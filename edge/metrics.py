"""Prometheus ``GET /metrics`` for every Kesher Sanic app: :func:`setup_metrics`.

Counters and histograms are counted in the process where the thing happens and kept
in prometheus_client's default registry; each layer defines its own in one module
(``connectors/metrics.py``, ``bot/metrics.py``, ``handoff/metrics.py``...), listed in
``docs/operations.md``. Gauges describing state that Redis holds for every process (the
queue, agents online, the mail outbox...) are read when Prometheus scrapes: each
:data:`GaugeReader` is awaited with a time limit, and one that fails or is too slow is
left out of that scrape (counted in ``kesher_metrics_gauge_failures_total``) instead of
failing it, so a Redis outage never hides the counters.

The route is on the app's own listener, which is loopback: the front door
(``frontdoor/nginx.conf.template``) does not pass ``/metrics``.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, Iterable, Iterator, List, Optional, Sequence

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from redis.exceptions import RedisError
from sanic import Blueprint, Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, raw

__all__ = ["METRICS_PATH", "GaugeReader", "MetricsBlueprint", "gauge", "setup_metrics"]

log = logging.getLogger(__name__)

METRICS_PATH = "/metrics"
GAUGE_TIMEOUT_SECONDS = 2.0

GaugeReader = Callable[[], Awaitable[Iterable[Metric]]]
"""Reads some gauges' current values (from Redis) when ``/metrics`` is scraped."""

GAUGE_FAILURES = Counter("kesher_metrics_gauge_failures", "Scrapes in which a gauge reader failed or timed out "
                         "(its gauges were left out).", ["reader"])


def gauge(name: str, documentation: str, value: float, labels: Optional[Dict[str, str]] = None) -> Metric:
    """One gauge with its value now (optionally one labelled sample), for a :data:`GaugeReader` to return."""
    if not labels:
        return GaugeMetricFamily(name, documentation, value=value)
    family = GaugeMetricFamily(name, documentation, labels=list(labels))
    family.add_metric(list(labels.values()), value)
    return family


class _Snapshot:
    """The gauges read for one scrape, in the shape ``generate_latest`` wants of a registry."""

    def __init__(self, families: List[Metric]) -> None:
        self.families = families

    def collect(self) -> Iterator[Metric]:
        yield from self.families


async def _read(reader: GaugeReader, seconds: float) -> List[Metric]:
    name = getattr(reader, "__qualname__", repr(reader))
    try:
        async with asyncio.timeout(seconds):
            return list(await reader())
    except (RedisError, OSError, TimeoutError) as exc:
        GAUGE_FAILURES.labels(name).inc()
        log.warning("metrics: gauges of %s left out of this scrape: %r", name, exc)
        return []


def setup_metrics(app: Sanic, gauges: Sequence[GaugeReader] = (), *,
                  timeout: float = GAUGE_TIMEOUT_SECONDS) -> None:
    """Adds ``GET /metrics`` (Prometheus text format) to ``app``, once however often it is called.

    Args:
        app: A Sanic app not started yet.
        gauges: Readers of the gauges this process reports, awaited at each scrape.
        timeout: Seconds each reader may take before its gauges are left out.
    """
    if getattr(app.ctx, "kesher_metrics", False):
        return
    app.ctx.kesher_metrics = True

    @app.get(METRICS_PATH, name="kesher_metrics")
    async def metrics(request: Request) -> HTTPResponse:
        families: List[Metric] = []
        for reader in gauges:
            families += await _read(reader, timeout)
        body = generate_latest(REGISTRY)
        if families:
            body += generate_latest(_Snapshot(families))
        return raw(body, content_type=CONTENT_TYPE_LATEST)


class MetricsBlueprint(Blueprint):
    """A Blueprint that gives the app it is registered on ``/metrics`` too.

    ``rasa run`` mounts each channel's Blueprint under ``/webhooks/<channel>/`` and offers no
    other way to add a route to its app; the first Kesher channel registered adds the
    app-wide ``/metrics`` this way.
    """

    def __init__(self, name: str, gauges: Sequence[GaugeReader] = (), **kwargs: Any) -> None:
        """Like ``Blueprint``; ``gauges`` are what the app's ``/metrics`` reads at each scrape."""
        super().__init__(name, **kwargs)
        self.ctx.kesher_gauges = gauges

    def register(self, app: Sanic, options: Dict[str, Any]) -> None:
        """Registers the Blueprint, then ``/metrics`` on the app (see :func:`setup_metrics`)."""
        super().register(app, options)
        setup_metrics(app, self.ctx.kesher_gauges)
