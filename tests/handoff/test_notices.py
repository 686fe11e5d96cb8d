"""Late-order notices on real Redis: once per order and estimate across replicas and restarts, the scan, "stop"."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import AsyncIterator, List, Tuple

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from actions.orders.repository import SqlOrderRepository
from actions.orders.seed import seed_database
from core.redis_keys import RedisKeys
from handoff.event_log import EventLog
from handoff.identity import IdentityBook
from handoff.mail.outbox import MailOutbox
from handoff.notices import LateOrder, NoticeScanner, NoticeService, is_opted_out, late_order_of
from handoff.router import HandoffRouter, InboundMessage
from handoff.state import HandoffStore
from tests.handoff.helpers import make_desk
from tests.helpers.backends import TEST_PREFIX, TODAY
from tests.helpers.redis_server import RedisServer
from tests.helpers.texts import catalog
from tests.helpers.waiting import until

KEYS = RedisKeys(TEST_PREFIX)
LATE = LateOrder(order_id="104233", email="dana@example.com", customer_name="Dana Levi", language="he",
                 estimate=TODAY + timedelta(days=4))


def _service(redis: Redis) -> NoticeService:
    """One replica's notices: its own client of the shared Redis."""
    store = HandoffStore(redis, KEYS)
    return NoticeService(store, IdentityBook(redis, KEYS), catalog(), MailOutbox(redis, KEYS),
                         event_log=EventLog(redis, KEYS))


@pytest_asyncio.fixture()
async def replicas(redis_server: RedisServer,
                   redis_client: Redis) -> AsyncIterator[Tuple[NoticeService, NoticeService]]:
    one, two = (Redis(port=redis_server.port, decode_responses=True) for _ in range(2))
    yield _service(one), _service(two)
    await one.close()
    await two.close()


@pytest.fixture()
def orders(tmp_path: Path) -> SqlOrderRepository:
    repo = SqlOrderRepository.from_url(f"sqlite:///{tmp_path / 'orders.db'}")
    seed_database(repo.engine, TODAY)
    return repo


async def _outbound(redis: Redis) -> List[dict]:
    return [fields for _, fields in await redis.xrange(KEYS.outbound())]


async def _mail_jobs(redis: Redis) -> List[str]:
    return list(await redis.zrange(KEYS.mail_due(), 0, -1))


async def test_two_replicas_told_of_the_same_delay_at_once_tell_the_customer_once(replicas, redis_client) -> None:
    a, b = replicas
    await a.identity.resolve("telegram", "424242")  # the customer wrote on Telegram...
    await a.identity.verified("telegram:424242", LATE.email)  # ...and proved the order's e-mail there
    results = await asyncio.gather(a.order_late(LATE), b.order_late(LATE))
    assert sorted(results) == ["already", "sent"]
    [message] = await _outbound(redis_client)
    assert message["channel"] == "telegram" and message["cid"] == "telegram:424242"
    assert "104233" in message["text"] and message["language"] == "he" and message["template"] == "late_order"
    assert len(await _mail_jobs(redis_client)) == 1


async def test_a_restarted_service_does_not_tell_again_but_a_new_estimate_is_told(redis_server, redis_client) -> None:
    first = Redis(port=redis_server.port, decode_responses=True)
    assert await _service(first).order_late(LATE) == "sent"
    await first.close()
    again = Redis(port=redis_server.port, decode_responses=True)  # the process came back
    try:
        assert await _service(again).order_late(LATE) == "already"
        later = replace(LATE, estimate=LATE.estimate + timedelta(days=2) if LATE.estimate else None)
        assert await _service(again).order_late(later) == "sent"
    finally:
        await again.close()
    assert len(await _mail_jobs(redis_client)) == 2


async def test_a_customer_without_a_conversation_is_told_by_mail_only(replicas, redis_client) -> None:
    a, _ = replicas
    assert await a.order_late(LATE) == "sent"
    assert await _outbound(redis_client) == []
    [job_id] = await _mail_jobs(redis_client)
    job = await a.outbox.job(job_id)
    assert job is not None and job["kind"] == "late_notice" and job["params"]["order_id"] == "104233"
    [(_, event)] = await redis_client.xrange(KEYS.service_events())
    assert event["kind"] == "notice_sent" and event["channel"] == "email" and event["reason"] == "late_order"


async def test_two_schedulers_on_one_redis_tell_each_late_order_once(replicas, orders, redis_client) -> None:
    a, b = replicas
    late = [o for o in await orders.find_late(TODAY) if late_order_of(o, TODAY) is not None]
    assert len(late) >= 5, "the seed should have late orders"
    scanners = [NoticeScanner(s, orders, every_seconds=60, today=lambda: TODAY) for s in (a, b)]
    told = await asyncio.gather(*(s.scan_once() for s in scanners))
    assert sum(told) == len(late)
    # The lease was given back: the next scans run, and find every order told already.
    assert await scanners[1].scan_once() == 0 and await scanners[0].scan_once() == 0
    assert len(await _mail_jobs(redis_client)) == len(late)


async def test_the_scan_runs_on_its_schedule_until_stopped(replicas, orders, redis_client) -> None:
    a, _ = replicas
    stop = asyncio.Event()
    task = asyncio.create_task(NoticeScanner(a, orders, every_seconds=0.05, today=lambda: TODAY).run(stop))
    late = [o for o in await orders.find_late(TODAY) if late_order_of(o, TODAY) is not None]

    async def all_told() -> bool:
        return len(await _mail_jobs(redis_client)) == len(late)

    await until(all_told, what="every late order told by the scheduled scan")
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_stop_in_hebrew_opts_out_confirms_in_hebrew_and_keeps_the_bot_out(replicas, redis_client) -> None:
    a, _ = replicas
    cid = await a.identity.resolve("whatsapp", "+972501234567")
    await a.identity.verified(cid, LATE.email)
    router = HandoffRouter(make_desk(a.store), notices=a)
    result = await router.route(InboundMessage(cid=cid, channel="whatsapp", text="הסר"))
    assert not result.to_bot
    [confirmation] = await _outbound(redis_client)
    assert confirmation["text"].startswith("בוצע") and confirmation["channel"] == "whatsapp"
    assert await is_opted_out(redis_client, KEYS, email=LATE.email)  # the e-mail too: its mails stop
    assert await a.order_late(LATE) == "opted_out"
    assert await _mail_jobs(redis_client) == []


async def test_stop_in_english_and_other_words_are_told_apart(replicas) -> None:
    a, _ = replicas
    router = HandoffRouter(make_desk(a.store), notices=a)
    assert not (await router.route(InboundMessage(cid="web:s1", channel="web", text="STOP"))).to_bot
    assert await is_opted_out(a.redis, KEYS, cid="web:s1")
    assert (await router.route(InboundMessage(cid="web:s2", channel="web", text="stop the order please"))).to_bot
    assert not await is_opted_out(a.redis, KEYS, cid="web:s2")


async def test_what_counts_as_late(orders) -> None:
    today = TODAY
    base = (await orders.find_late(today))[0]
    assert late_order_of(replace(base, status="delivered"), today) is None
    on_time = replace(base, status="processing", promised_delivery=today + timedelta(days=3),
                      estimated_delivery=today + timedelta(days=2))
    assert late_order_of(on_time, today) is None
    expected_late = late_order_of(replace(on_time, estimated_delivery=today + timedelta(days=5)), today)
    assert expected_late is not None and expected_late.estimate == today + timedelta(days=5)
    overdue = late_order_of(replace(on_time, status="shipped", promised_delivery=today - timedelta(days=1),
                                    estimated_delivery=today - timedelta(days=1)), today)
    assert overdue is not None and overdue.estimate is None  # no new date yet: the text says so
    delayed = late_order_of(replace(on_time, status="delayed"), today)
    assert delayed is not None
