"""The handoff service's ``/metrics``: queue, wait when taken, agents online, open chats, the mail outbox, events."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from console.context import state
from core.service_events import EventKind
from handoff.event_log import EventLog
from handoff.mail.outbox import mail_id_for
from tests.handoff.helpers import request
from tests.helpers.console_app import running_console
from tests.helpers.metrics import scrape
from tests.helpers.redis_server import RedisServer, start_redis
from tests.helpers.waiting import until

pytestmark = pytest.mark.asyncio


@pytest.fixture()
def own_redis(tmp_path: Path) -> Iterator[RedisServer]:
    """A redis-server of this test's own: the console service other tests keep running on the shared one has a
    mail worker too, which would take this test's mail job and count its failure in that other process."""
    folder = tmp_path / "redis"
    folder.mkdir()
    server = start_redis(folder)
    yield server
    server.stop()


async def test_a_handoff_moves_the_queue_the_wait_the_agents_and_the_open_chats(
        own_redis: RedisServer, tmp_path: Path) -> None:
    async with running_console(own_redis, tmp_path) as console:
        service = state(console.app)
        desk, store = service.container.desk, service.container.store
        dana = service.container.agents.get("dana")
        assert dana is not None
        cid = f"kesher_callback:metrics-{time.time_ns()}"
        before = await scrape(console.base_url)

        await desk.request(request(cid))
        # the customer's e-mail is known: the handoff e-mail is queued; with no SMTP server listening it stays
        # in the outbox and is retried
        await store.update(cid, email="noa.customer@shop-test.co.il")
        await desk.queue_handoff_mail(await store.get(cid))  # type: ignore[arg-type]
        queued = await scrape(console.base_url)
        assert queued.value("kesher_queue_length") == before.value("kesher_queue_length") + 1
        assert queued.value("kesher_mail_outbox") == before.value("kesher_mail_outbox") + 1

        await desk.set_presence(dana, "online")
        # the customer has waited 42 s when the agent takes the chat
        await store.redis.hset(store.keys.conversation(cid), "queued_at", repr(time.time() - 42))
        assert (await desk.take(cid, dana)).ok
        taken = await scrape(console.base_url)
        assert taken.value("kesher_queue_length") == before.value("kesher_queue_length")
        assert taken.value("kesher_open_chats") == before.value("kesher_open_chats") + 1
        assert taken.value("kesher_agents_online") >= 1
        assert taken.types["kesher_queue_wait_seconds"] == "histogram"
        assert taken.value("kesher_queue_wait_seconds_count") == before.value("kesher_queue_wait_seconds_count") + 1
        waited = taken.value("kesher_queue_wait_seconds_sum") - before.value("kesher_queue_wait_seconds_sum")
        assert 42 <= waited < 45
        assert taken.value("kesher_queue_wait_seconds_bucket", le="30.0") == before.value(
            "kesher_queue_wait_seconds_bucket", le="30.0")
        assert taken.value("kesher_queue_wait_seconds_bucket", le="60.0") == before.value(
            "kesher_queue_wait_seconds_bucket", le="60.0") + 1

        async def retried() -> Any:
            now = await scrape(console.base_url)
            return now if now.value("kesher_mail_jobs_total", outcome="retry") > before.value(
                "kesher_mail_jobs_total", outcome="retry") else None

        await until(retried, what="the mail worker's failed attempt counted")
        # leave the shared redis-server as other tests expect it: dana offline, no chat, no mail
        await desk.set_presence(dana, "offline")
        await store.redis.srem(store.keys.agent_chats("dana"), cid)
        conv = await store.get(cid)
        assert conv is not None
        await store.redis.zrem(store.keys.mail_due(), mail_id_for(f"handoff:{conv.reference}"))
        await store.redis.delete(store.keys.conversation(cid))


async def test_the_event_log_backlog_is_what_the_mover_has_not_acknowledged(
        redis_server: RedisServer, tmp_path: Path) -> None:
    # The service's own mover is off (KESHER_EVENT_LOG=off), so the test plays the mover and knows what it read.
    async with running_console(redis_server, tmp_path, event_log=False) as console:
        container = state(console.app).container
        redis, key = container.redis, container.keys.service_events()
        await redis.delete(key)
        events = EventLog(redis, container.keys)
        for n in range(3):
            await events.record(EventKind.TURN, f"c{n}", channel="web", outcome="answered")
        unread = await scrape(console.base_url)
        assert unread.value("kesher_service_events_stream_length") == 3
        assert unread.value("kesher_service_events_backlog") == 3  # no mover has read them yet
        # a mover reads two and acknowledges one of them
        await redis.xgroup_create(key, "mover", id="0")
        [(_, entries)] = await redis.xreadgroup("mover", "m1", {key: ">"}, count=2)
        await redis.xack(key, "mover", entries[0][0])
        moved = await scrape(console.base_url)
        assert moved.value("kesher_service_events_backlog") == 2  # one unread, one read but not written yet
        await redis.delete(key)


async def test_metrics_need_no_login_and_hold_no_conversation(redis_server: RedisServer, tmp_path: Path) -> None:
    async with running_console(redis_server, tmp_path) as console:
        service = state(console.app)
        cid = f"kesher_callback:private-{time.time_ns()}"
        await service.container.desk.request(request(cid))
        scraped = await scrape(console.base_url)
        assert scraped.value("kesher_queue_length") >= 1
        assert not any(cid in str(labels) for _, labels in scraped.samples)
        await service.container.store.give_up(cid)
