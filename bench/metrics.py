"""What Prometheus metrics cost: counting a turn where Rasa saves it, and one scrape of the handoff service.

Run with ``python -m bench.metrics``. Part one times ``bot.metrics.count_turns`` over the
conversation tests' and stories' turns (the events one save appends), against the same loop
without it, in the same run. Part two starts the handoff service's app (``console.app``) on a
redis-server of its own, fills the queue, the agents' chats and the mail outbox, and times
``GET /metrics`` over HTTP (the gauges are read from Redis at each scrape); the same app's
``GET /health`` (one Redis ``PING``) is the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, List, Optional, Sequence

import httpx
from rasa.shared.core.domain import Domain
from sanic import Sanic

from bench.tracker_store import story_turns
from bench.turns import machine
from bot.metrics import count_turns
from console.app import create_app
from console.context import state
from core.processes import free_port
from core.settings import PROJECT_ROOT, Settings
from handoff.models import HandoffRequest
from kesher.supervisor import Supervisor


def _per_call_us(body: Callable[[], None], repeat: int) -> float:
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            body()
        best = min(best, (time.perf_counter() - start) / repeat * 1e6)
    return best


def count_cost(repeat: int) -> List[str]:
    """Microseconds per turn with and without ``count_turns`` (best of five passes)."""
    domain = Domain.load(str(PROJECT_ROOT / "domain"))
    turns = story_turns(domain)

    def baseline() -> None:
        for turn in turns:
            list(turn)

    def counted() -> None:
        for turn in turns:
            list(turn)
            count_turns(turn, "en")

    base = _per_call_us(baseline, repeat) / len(turns)
    with_count = _per_call_us(counted, repeat) / len(turns)
    return [f"| per turn, without counting | {base:.2f} µs |",
            f"| per turn, with `count_turns` | {with_count:.2f} µs |",
            f"| cost of counting | {with_count - base:.2f} µs ({len(turns)} story turns) |"]


async def _scrapes(app: Sanic, settings: Settings, queued: int, scrapes: int) -> List[str]:
    service = state(app)
    desk = service.container.desk
    for n in range(queued):
        await desk.store.request(HandoffRequest(cid=f"kesher_callback:bench-{n}", channel="kesher_callback",
                                                language="en", reason="explicit_request", reference=f"K-{n:06d}",
                                                priority=1, topic="general"))
    port = settings.handoff_port
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True, access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.start_serving()
    rows: List[str] = []
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as http:
            for path in ("/health", "/metrics"):
                times = []
                for _ in range(scrapes):
                    start = time.perf_counter()
                    response = await http.get(path)
                    times.append((time.perf_counter() - start) * 1000)
                    assert response.status_code == 200
                times.sort()
                rows.append(f"| `GET {path}` | {statistics.median(times):.2f} ms | "
                            f"{times[int(len(times) * 0.95) - 1]:.2f} ms | {len(response.content):,} B |")
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await service.container.close()
    return rows


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=200, help="passes over the story turns per timing")
    parser.add_argument("--queued", type=int, default=200, help="conversations in the queue while scraping")
    parser.add_argument("--scrapes", type=int, default=300)
    args = parser.parse_args(argv)
    print(f"Run {time.strftime('%Y-%m-%d %H:%M')} on {machine()}")
    print("\n| counting turns (bot/metrics.py) | best of 5 |\n|---|---|")
    for row in count_cost(args.repeat):
        print(row)
    settings = Settings(var_dir=Path(tempfile.mkdtemp(prefix="kesher-bench-metrics-")), manual_assign=True
                        ).with_ports(redis=free_port(), rasa=free_port(), actions=free_port(), handoff=free_port(),
                                     smtp=free_port())
    with Supervisor(settings, parts=("redis",)):
        app: Any = create_app(settings, name="bench-metrics")
        rows = asyncio.run(_scrapes(app, settings, args.queued, args.scrapes))
    print(f"\n| handoff service, {args.queued} queued, {args.scrapes} requests each | median | p95 | body |")
    print("|---|---|---|---|")
    for row in rows:
        print(row)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
