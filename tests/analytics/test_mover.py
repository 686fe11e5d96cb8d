"""The mover: events from the Redis stream into a real SQLite file and a real PostgreSQL, once each, none lost."""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any, AsyncIterator, Iterator, List

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import func, select, text
from sqlalchemy.engine import Engine

from analytics.engine import events_engine
from analytics.mover import GROUP, EventMover
from analytics.tables import service_events
from core.redis_keys import RedisKeys
from core.service_events import EventKind, pseudonym
from handoff.event_log import EventLog
from tests.helpers.postgres import PostgresServer, start_postgres
from tests.helpers.waiting import until

# Not the default prefix: a handoff service the console tests run on the same redis-server has a mover of its own.
KEYS = RedisKeys("mover-test:")
SECRET = "mover-test-secret"


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'var' / 'events.db'}"
    else:
        server: PostgresServer = request.getfixturevalue("postgres")
        url = server.create_database(f"events_{uuid.uuid4().hex[:10]}")
    built = events_engine(url)
    yield built
    built.dispose()


@pytest_asyncio.fixture()
async def log(redis_client: Redis) -> AsyncIterator[EventLog]:
    yield EventLog(redis_client, KEYS)


def stored(engine: Engine) -> int:
    with engine.connect() as connection:
        try:
            return int(connection.execute(select(func.count()).select_from(service_events)).scalar_one())
        except Exception:
            return -1


async def count(engine: Engine) -> int:
    return await asyncio.to_thread(stored, engine)


def mover_of(redis: Redis, engine: Engine, **options: float) -> EventMover:
    return EventMover(redis, KEYS, engine, secret=SECRET, wait_seconds=0.1, **options)  # type: ignore[arg-type]


async def record(log: EventLog, n: int, start: int = 0) -> List[str]:
    ids = []
    for i in range(start, start + n):
        entry = await log.record(EventKind.HANDOFF_ASSIGNED, f"web:c{i}", contact=f"web:c{i}@1700000000",
                                 channel="web", language="he", agent="omer", team="billing", value=float(i))
        assert entry is not None
        ids.append(entry)
    return ids


async def test_the_mover_writes_every_event_once_and_empties_the_stream(
    redis_client: Redis, log: EventLog, engine: Engine
) -> None:
    await record(log, 1200)
    mover = mover_of(redis_client, engine)
    stop = asyncio.Event()
    task = asyncio.create_task(mover.run(stop))
    try:
        await until(lambda: _equals(engine, 1200), what="1200 rows", timeout=60)
        await record(log, 5, start=1200)  # events recorded while it runs follow
        await until(lambda: _equals(engine, 1205), what="1205 rows", timeout=30)
    finally:
        stop.set()
        await task
    with engine.connect() as connection:
        row = connection.execute(select(service_events).where(
            service_events.c.conversation == pseudonym(SECRET, "web:c7"))).one()
        if engine.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
    assert (row.kind, row.contact, row.channel, row.language, row.agent, row.team, row.value) == (
        "handoff_assigned", f"{pseudonym(SECRET, 'web:c7')}@1700000000", "web", "he", "omer", "billing", 7.0)
    assert row.intent == "" and row.confidence is None
    assert await redis_client.xlen(KEYS.service_events()) == 0  # acknowledged entries are trimmed
    assert (await redis_client.xpending(KEYS.service_events(), GROUP))["pending"] == 0


async def _equals(engine: Engine, expected: int) -> bool:
    return await count(engine) == expected


async def test_a_batch_delivered_twice_is_stored_once(
    redis_client: Redis, log: EventLog, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await record(log, 30)
    mover = mover_of(redis_client, engine)
    real_forget = mover._forget
    calls = []

    async def crash_before_ack(ids: List[str]) -> None:
        calls.append(len(ids))
        if len(calls) == 1:  # the process "dies" between the commit and the acknowledgement
            raise RedisConnectionError("connection lost")
        await real_forget(ids)

    monkeypatch.setattr(mover, "_forget", crash_before_ack)
    with pytest.raises(RedisConnectionError):
        await mover.run_once()
    assert await count(engine) == 30
    assert (await redis_client.xpending(KEYS.service_events(), GROUP))["pending"] == 30
    mover._own_pending_first = True  # what run() does after an error
    assert await mover.run_once() == 30  # the same 30 entries, delivered again
    assert await count(engine) == 30
    assert (await redis_client.xpending(KEYS.service_events(), GROUP))["pending"] == 0


async def test_a_second_mover_takes_over_what_a_dead_one_left_unacknowledged(
    redis_client: Redis, log: EventLog, engine: Engine
) -> None:
    await record(log, 40)
    dead = mover_of(redis_client, engine, consumer="dead-replica")  # type: ignore[arg-type]
    await dead._ensure_group()
    taken = await dead._read(">", block=None)  # it read the batch, then its process was killed
    assert len(taken) == 40
    await record(log, 10, start=40)
    alive = mover_of(redis_client, engine, consumer="alive", claim_idle_seconds=0.3)  # type: ignore[arg-type]
    stop = asyncio.Event()
    task = asyncio.create_task(alive.run(stop))
    try:
        await until(lambda: _equals(engine, 50), what="all 50 rows, the dead mover's 40 included", timeout=30)
    finally:
        stop.set()
        await task
    pending = await redis_client.xpending(KEYS.service_events(), GROUP)
    assert pending["pending"] == 0


async def test_a_database_outage_delays_events_and_loses_none(
    redis_client: Redis, log: EventLog, postgres: PostgresServer
) -> None:
    engine = events_engine(postgres.create_database(f"outage_{uuid.uuid4().hex[:10]}"))
    mover = mover_of(redis_client, engine, backoff_seconds=0.05, backoff_cap_seconds=0.4)
    stop = asyncio.Event()
    task = asyncio.create_task(mover.run(stop))
    try:
        await record(log, 100)
        await until(lambda: _equals(engine, 100), what="the first 100 rows", timeout=30)
        await asyncio.to_thread(postgres.stop)
        try:
            await record(log, 150, start=100)  # customers go on; the events are recorded all the same
            await until(lambda: mover.failures >= 3, what="the mover retrying against the stopped database",
                        timeout=30)
            assert await redis_client.xlen(KEYS.service_events()) == 150  # waiting in Redis
        finally:
            await asyncio.to_thread(postgres.restart)
        await record(log, 50, start=250)
        await until(lambda: _equals(engine, 300), what="all 300 rows after the restart", timeout=60)
    finally:
        stop.set()
        await task
        engine.dispose()
    with engine.connect() as connection:
        values = connection.execute(select(service_events.c.value).order_by(service_events.c.value)).scalars().all()
    assert values == [float(i) for i in range(300)]  # each exactly once


async def test_a_minute_without_the_database_delays_events_and_loses_none(redis_client: Redis, log: EventLog) -> None:
    # Its own PostgreSQL (the module's is shared), and the mover's own waits: 1 s doubling to 30 s.
    server = await asyncio.to_thread(start_postgres)
    engine = events_engine(await asyncio.to_thread(server.create_database, "minute"))
    mover = EventMover(redis_client, KEYS, engine, secret=SECRET)
    stop = asyncio.Event()
    task = asyncio.create_task(mover.run(stop))
    try:
        recorded = len(await record(log, 20))
        await until(lambda: _equals(engine, 20), what="the first 20 rows", timeout=30)
        await asyncio.to_thread(server.stop)
        down = time.monotonic()
        try:
            while time.monotonic() - down < 60:  # customers go on for a minute, five events a second
                recorded += len(await record(log, 5, start=recorded))
                await asyncio.sleep(1)
            assert mover.failures >= 4
            assert await redis_client.xlen(KEYS.service_events()) == recorded - 20  # all waiting in Redis
        finally:
            await asyncio.to_thread(server.restart)
        recorded += len(await record(log, 5, start=recorded))
        # the mover's next try is at most its 30 s cap away
        await until(lambda: _equals(engine, recorded), what=f"all {recorded} rows after the outage", timeout=90)
        with engine.connect() as connection:
            values = connection.execute(
                select(service_events.c.value).order_by(service_events.c.value)).scalars().all()
        assert values == [float(i) for i in range(recorded)]  # each exactly once
    finally:
        stop.set()
        await task
        engine.dispose()
        await asyncio.to_thread(server.remove)


async def test_the_database_holds_pseudonyms_and_forgets_words_then_rows(
    redis_client: Redis, log: EventLog, engine: Engine
) -> None:
    phone = "whatsapp:+972501234567"
    await log.record(EventKind.TURN, phone, contact=f"{phone}@1700000000", channel="whatsapp", outcome="fell_back",
                     text="do you ship to Eilat?")
    mover = mover_of(redis_client, engine, text_days=30, row_days=400)
    await until(lambda: _moved(mover), what="the turn stored")
    rows = await asyncio.to_thread(_all_rows, engine)
    assert [(r.conversation, r.contact, r.text) for r in rows] == [
        (pseudonym(SECRET, phone), f"{pseudonym(SECRET, phone)}@1700000000", "do you ship to Eilat?")]
    assert "972501234567" not in repr(rows)
    written = rows[0].at
    assert await asyncio.to_thread(mover.purge, written + timedelta(days=29)) == (0, 0)
    assert await asyncio.to_thread(mover.purge, written + timedelta(days=31)) == (1, 0)
    rows = await asyncio.to_thread(_all_rows, engine)
    assert [(r.kind, r.outcome, r.text) for r in rows] == [("turn", "fell_back", "")]  # counted still, words gone
    assert await asyncio.to_thread(mover.purge, written + timedelta(days=401)) == (0, 1)
    assert await asyncio.to_thread(_all_rows, engine) == []


async def _moved(mover: EventMover) -> bool:
    return await mover.run_once() > 0


def _all_rows(engine: Engine) -> List[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(service_events)).all())
