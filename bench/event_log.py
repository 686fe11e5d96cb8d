"""The event log's two costs, measured apart from the rest of a turn (``python -m bench.event_log``).

1. **In ``rasa run``**: the tracker store's save of one turn (a customer message and the
   bot's answer) with the event log on (the ``turn`` event's ``XADD`` in the save's round
   trip) and off, on a real redis-server, alternating blocks of saves so both see the same
   machine; prints the time per save and the difference.
2. **In the handoff service**: the mover moving a backlog of events from the stream into a
   fresh SQLite file (and PostgreSQL, when Debian's is installed), in events per second and
   the process's CPU milliseconds per 1,000 events.

It starts its own redis-server (and PostgreSQL) on free loopback ports and prints tables.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import List, Optional, Sequence

from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from redis.asyncio import Redis

from analytics.engine import events_engine
from analytics.mover import EventMover
from bot.tracker_store import WindowedRedisTrackerStore
from core.redis_keys import RedisKeys
from core.service_events import EventKind
from core.settings import PROJECT_ROOT
from handoff.event_log import EventLog
from tests.helpers.postgres import postgres_available, start_postgres
from tests.helpers.redis_server import start_redis

KEYS = RedisKeys()


def _turn(n: int) -> List[Event]:
    return [UserUttered(f"where is my order {n}?", {"name": "order_status", "confidence": 0.91},
                        input_channel="web"),
            SlotSet("language", "en"), ActionExecuted("utter_ask_order_id"), BotUttered(f"which order? {n}"),
            ActionExecuted(ACTION_LISTEN_NAME)]


async def _saves(store: WindowedRedisTrackerStore, sender: str, count: int) -> List[float]:
    """Times ``count`` saves of one turn each (the read is not timed)."""
    took: List[float] = []
    for n in range(count):
        tracker = await store.retrieve(sender) or store.init_tracker(sender)
        if not tracker.events:
            for event in (ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(),
                          ActionExecuted(ACTION_LISTEN_NAME)):
                tracker.update(event)
        for event in _turn(n):
            tracker.update(event)
        started = time.perf_counter()
        await store.save(tracker)
        took.append((time.perf_counter() - started) * 1000)
    return took


async def bench_saves(port: int, blocks: int, per_block: int) -> List[str]:
    """Saves with the event log on and off, in alternating blocks; one table row each and the difference."""
    domain = Domain.load(str(PROJECT_ROOT / "domain"))
    stores = {
        "on": WindowedRedisTrackerStore(domain, host="127.0.0.1", port=port, key_prefix="b", event_log="1"),
        "off": WindowedRedisTrackerStore(domain, host="127.0.0.1", port=port, key_prefix="b", event_log="off"),
    }
    took = {"on": [], "off": []}  # type: dict[str, List[float]]
    for block in range(blocks):
        order = ("on", "off") if block % 2 == 0 else ("off", "on")
        for name in order:
            # a new conversation every block, so both read windows of the same sizes
            took[name] += await _saves(stores[name], f"{name}-{block}", per_block)
    for store in stores.values():
        await store.close()
    rows = []
    for name in ("off", "on"):
        q = statistics.quantiles(took[name], n=100, method="inclusive")
        rows.append(f"| {name} | {len(took[name])} | {statistics.fmean(took[name]):.3f} | {q[49]:.3f} | {q[94]:.3f} |")
    diff = statistics.fmean(took["on"]) - statistics.fmean(took["off"])
    p50 = statistics.median(took["on"]) - statistics.median(took["off"])
    rows.append(f"| on − off | | {diff:+.3f} | {p50:+.3f} | |")
    return rows


async def bench_mover(port: int, url: str, label: str, events: int) -> str:
    """Moves ``events`` recorded events into the database at ``url``; one table row."""
    redis = Redis(port=port, decode_responses=True)
    await redis.delete(KEYS.service_events())
    log = EventLog(redis, KEYS)
    for start in range(0, events, 1000):
        async with redis.pipeline(transaction=False) as pipe:
            for i in range(start, min(events, start + 1000)):
                log.add_to(pipe, log.event(EventKind.TURN, f"web:c{i % 500}", contact=f"web:c{i % 500}@1700000000",
                                           channel="web", language="he", intent="order_status", confidence=0.9,
                                           outcome="answered", topic="order_status", value=120.0))
            await pipe.execute()
    engine = events_engine(url)
    mover = EventMover(redis, KEYS, engine, secret="bench-secret", wait_seconds=0.1)
    cpu, wall = time.process_time(), time.perf_counter()
    moved = 0
    while moved < events:
        moved += await mover.run_once()
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    engine.dispose()
    await redis.close()
    return f"| {label} | {events} | {wall:.2f} | {events / wall:,.0f} | {cpu * 1000 / events * 1000:.0f} |"


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--blocks", type=int, default=20, help="alternating blocks of saves per setting")
    parser.add_argument("--per-block", type=int, default=50, help="saves (turns) per block")
    parser.add_argument("--events", type=int, default=20_000, help="events the mover moves per database")
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="kesher-bench-events-"))
    (work / "redis").mkdir()
    server = start_redis(work / "redis")
    postgres = start_postgres() if postgres_available() else None
    try:
        saves = asyncio.run(bench_saves(server.port, args.blocks, args.per_block))
        movers = [asyncio.run(bench_mover(server.port, f"sqlite:///{work / 'events.db'}", "SQLite (WAL)",
                                          args.events))]
        if postgres is not None:
            movers.append(asyncio.run(bench_mover(server.port, postgres.create_database("bench_events"),
                                                  "PostgreSQL", args.events)))
    finally:
        server.stop()
        if postgres is not None:
            postgres.remove()
    print("\nThe tracker store's save of one turn (ms), event log on and off, alternating blocks:\n")
    print("| event log | saves | mean | p50 | p95 |\n|---|---|---|---|---|")
    print("\n".join(saves))
    print("\nThe mover, a backlog of events into the table (batches of 500, one transaction each):\n")
    print("| database | events | seconds | events/s | CPU µs per event |\n|---|---|---|---|---|")
    print("\n".join(movers))
    return 0


if __name__ == "__main__":
    sys.exit(main())
