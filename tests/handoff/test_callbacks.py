"""Callback requests in a real Redis: filed, listed soonest first, closed once with an outcome, logged."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from core.errors import Conflict, InvalidInput, NotFound
from core.redis_keys import RedisKeys
from handoff.callbacks import CLOSED_TTL_SECONDS, CallbackBook
from handoff.event_log import EventLog

KEYS = RedisKeys("test:ho:")
NOW = 1_790_000_000.0


def _book(redis: Redis) -> CallbackBook:
    return CallbackBook(redis, KEYS, EventLog(redis, KEYS), clock=lambda: NOW)


async def test_requests_are_listed_soonest_first_and_closed_once(redis_client: Redis) -> None:
    book = _book(redis_client)
    later = await book.create("web:a", "web", "en", "0505551234", NOW + 7200)
    sooner = await book.create("whatsapp:b", "whatsapp", "he", "0525550000", NOW + 3600)
    assert [r.callback_id for r in await book.open_requests()] == [sooner.callback_id, later.callback_id]
    assert sooner.callback_id.startswith("CB-") and sooner.callback_id != later.callback_id

    closed = await book.close(sooner.callback_id, "reached", "omer", "  all good ")
    assert (closed.state, closed.outcome, closed.closed_by, closed.closed_at) == ("closed", "reached", "omer", NOW)
    assert [r.callback_id for r in await book.open_requests()] == [later.callback_id]
    assert [r.callback_id for r in await book.closed_requests()] == [sooner.callback_id]
    assert 0 < await redis_client.ttl(KEYS.callback(sooner.callback_id)) <= CLOSED_TTL_SECONDS
    with pytest.raises(Conflict):
        await book.close(sooner.callback_id, "no_answer", "dana")
    assert (await book.get(sooner.callback_id)).outcome == "reached"  # the first closing stands

    events = [f for _, f in await redis_client.xrange(KEYS.service_events())]
    assert [(e["kind"], e["reason"], e.get("outcome", "")) for e in events] == [
        ("callback", "requested", ""), ("callback", "requested", ""), ("callback", "closed", "reached")]
    assert events[2]["agent"] == "omer" and events[2]["conversation"] == "whatsapp:b"


async def test_bad_input_is_refused(redis_client: Redis) -> None:
    book = _book(redis_client)
    with pytest.raises(InvalidInput):
        await book.create("web:a", "web", "en", "", NOW + 60)
    request = await book.create("web:a", "web", "en", "0505551234", NOW + 60)
    with pytest.raises(InvalidInput):
        await book.close(request.callback_id, "hung_up", "omer")
    with pytest.raises(NotFound):
        await book.close("CB-000000", "reached", "omer")
