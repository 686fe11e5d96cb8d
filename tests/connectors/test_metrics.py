"""``rasa run``'s ``/metrics`` as the channels fill it: turn latency, deliveries, failures, the undelivered list."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.metrics import scrape
from tests.helpers.waiting import until

pytestmark = pytest.mark.asyncio


def _root(app: Any) -> str:
    return app.base.split("/webhooks/")[0]


async def test_a_message_moves_the_turn_latency_and_the_deliveries(whatsapp) -> None:
    app, customer = whatsapp
    before = await scrape(_root(app))
    await customer.say("hi")
    await customer.replies(1)
    after = await until(lambda: _delivered(app, before), what="the delivery counted")
    assert after.value("kesher_turn_seconds_count", channel="whatsapp") == (
        before.value("kesher_turn_seconds_count", channel="whatsapp") + 1)
    assert after.types["kesher_turn_seconds"] == "histogram"
    assert after.value("kesher_undelivered") == 0


async def _delivered(app: Any, before: Any) -> Any:
    now = await scrape(_root(app))
    moved = now.value("kesher_deliveries_total", channel="whatsapp") > before.value("kesher_deliveries_total",
                                                                                       channel="whatsapp")
    return now if moved else None


async def test_a_reply_the_provider_refuses_is_a_failure_and_lands_in_the_undelivered_count(whatsapp) -> None:
    app, customer = whatsapp
    before = await scrape(_root(app))
    customer.twilio.fail_next(1, status=400, code=21211, message="Invalid 'To' Phone Number")
    await customer.say("hi")

    async def refused() -> Any:
        now = await scrape(_root(app))
        return now if now.value("kesher_undelivered") >= 1 else None

    after = await until(refused, what="the refused reply counted")
    assert after.value("kesher_delivery_failures_total", channel="whatsapp", result="refused") == (
        before.value("kesher_delivery_failures_total", channel="whatsapp", result="refused") + 1)
    assert after.value("kesher_undelivered") == before.value("kesher_undelivered") + 1


async def test_a_provider_outage_counts_each_failed_attempt_as_a_retry(whatsapp) -> None:
    app, customer = whatsapp
    before = await scrape(_root(app))
    customer.twilio.fail_next(1, status=503)
    await customer.say("hi")
    await customer.replies(1, seconds=30)  # sent on the second attempt
    after = await until(lambda: _delivered(app, before), what="the delivery counted")
    assert after.value("kesher_delivery_failures_total", channel="whatsapp", result="retry") == (
        before.value("kesher_delivery_failures_total", channel="whatsapp", result="retry") + 1)
