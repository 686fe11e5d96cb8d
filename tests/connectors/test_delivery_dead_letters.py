"""Nothing forever: a reply the provider never takes is tried a bounded number of times, then kept for agents.

The WhatsApp channel is served over real HTTP with a delivery worker whose
waits are short (4 attempts, backoff 0.3 s doubling); the fake Twilio answers
503 to every attempt. The reply then sits in the undelivered list, which the
real handoff service (a subprocess) shows on ``/console/undelivered``, over
HTTP and in Debian's Chromium.
"""

from __future__ import annotations

from itertools import pairwise
from typing import Any, AsyncIterator, Dict, List, Tuple

import httpx
import pytest_asyncio
from redis.asyncio import Redis

from connectors.delivery import GROUP, DeliveryTimings
from core.settings import Settings
from handoff.identity import conversation_id
from handoff.state import HandoffStore
from tests.console.conftest import PASSWORD, Service, english_request, login
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.channels import ChannelApp, WhatsAppCustomer, serving_channel, whatsapp_on
from tests.helpers.fake_twilio import FakeTwilio
from tests.helpers.waiting import until

ATTEMPTS = 4
BACKOFF = 0.3
PATIENT = DeliveryTimings(claim_idle_ms=50, reclaim_every_seconds=0.02, block_ms=50, attempts=ATTEMPTS,
                          backoff_seconds=BACKOFF, backoff_max_seconds=10.0, keep_undelivered_seconds=3600)
CID = conversation_id("whatsapp", "+972501234567")
XSS = '<img src=x onerror="window.__xss=1">'


@pytest_asyncio.fixture()
async def whatsapp_bounded(channel_settings: Settings, twilio: FakeTwilio, redis_client: Redis,
                           ) -> AsyncIterator[Tuple[ChannelApp, WhatsAppCustomer]]:
    twilio.clear()

    async with serving_channel(whatsapp_on(twilio), channel_settings, delivery=PATIENT) as app:
        yield app, WhatsAppCustomer(app.base, twilio)


async def _given_up(app: ChannelApp, customer: WhatsAppCustomer, text: str) -> Dict[str, str]:
    """The customer writes ``text``; Twilio refuses every attempt at the answer until the worker gives up."""
    customer.twilio.fail_next(ATTEMPTS, status=503)
    await customer.say(text)
    entries: List[Any] = await until(lambda: app.rt.redis.xrange(app.rt.keys.undelivered()),
                                     what="the answer in the undelivered list", timeout=30)
    [(_, fields)] = entries
    return dict(fields)


async def test_a_reply_twilio_never_takes_gets_bounded_attempts_with_growing_gaps_then_is_kept(
    whatsapp_bounded,
) -> None:
    app, customer = whatsapp_bounded
    dead = await _given_up(app, customer, "hi")
    attempts = customer.twilio.requests
    assert [r.http_status for r in attempts] == [503] * ATTEMPTS
    gaps = [later.at - earlier.at for earlier, later in pairwise(attempts)]
    planned = [BACKOFF * 2**i for i in range(ATTEMPTS - 1)]  # 0.3, 0.6, 1.2 s
    assert all(gap >= wait for gap, wait in zip(gaps, planned, strict=True)), gaps
    assert gaps[-1] > gaps[0]
    assert dead["text"] == "bot: hi" and dead["channel"] == "whatsapp" and dead["cid"] == CID
    assert dead["attempts"] == str(ATTEMPTS) and dead["refused"] == "0" and "503" in dead["error"]
    # Kept like other personal data: the list expires.
    assert 0 < await app.rt.redis.ttl(app.rt.keys.undelivered()) <= 3600
    # Given up for good: nothing waits for another attempt, and the next answer goes out at once.
    await until(lambda: _nothing_pending(app), what="the given-up reply to leave the delivery queue")
    await customer.say("still there?")
    [reply] = await customer.replies(1)
    assert reply.text.startswith("bot: still there?")
    assert len(customer.twilio.requests) == ATTEMPTS + 1


async def test_a_reply_twilio_refuses_is_kept_after_one_attempt(whatsapp_bounded) -> None:
    app, customer = whatsapp_bounded
    customer.twilio.fail_next(1, status=400, code=21211, message="Invalid 'To' Phone Number")
    await customer.say("hi")
    [(_, dead)] = await until(lambda: app.rt.redis.xrange(app.rt.keys.undelivered()),
                              what="the refused answer in the undelivered list")
    assert dead["refused"] == "1" and dead["attempts"] == "1" and "Invalid 'To' Phone Number" in dead["error"]
    assert len(customer.twilio.requests) == 1


async def _nothing_pending(app: ChannelApp) -> bool:
    return (await app.rt.redis.xpending(app.rt.keys.outbound(), GROUP))["pending"] == 0


async def test_agents_see_the_undelivered_replies_of_conversations_they_may_read(
    whatsapp_bounded, console_service: Service, live_store: HandoffStore,
) -> None:
    app, customer = whatsapp_bounded
    await _given_up(app, customer, "where is my parcel?")
    async with httpx.AsyncClient(base_url=console_service.base_url, timeout=15) as supervisor:
        await login(supervisor, "dana")
        page = await supervisor.get("/console/undelivered")
    assert page.status_code == 200
    assert "bot: where is my parcel?" in page.text and CID in page.text
    assert "Twilio answered 503" in page.text and f"{ATTEMPTS} attempts" in page.text
    assert "content-security-policy" in page.headers

    async with httpx.AsyncClient(base_url=console_service.base_url, timeout=15) as agent:
        await login(agent, "omer")
        # A conversation the bot alone had: not omer's to read.
        hidden = await agent.get("/console/undelivered")
        assert hidden.status_code == 200 and CID not in hidden.text and 'id="undelivered-empty"' in hidden.text
        # Once it waits in the queue, every agent may read it, and its undelivered reply.
        await live_store.request(english_request(CID))
        shown = await agent.get("/console/undelivered")
        assert "bot: where is my parcel?" in shown.text

    async with httpx.AsyncClient(base_url=console_service.base_url, timeout=15) as writer:
        await login(writer, "maya", landing="/console/writers")
        assert (await writer.get("/console/undelivered")).status_code == 403
    async with httpx.AsyncClient(base_url=console_service.base_url, timeout=15) as nobody:
        response = await nobody.get("/console/undelivered")
        assert response.status_code in (302, 303) and response.headers["location"].endswith("/console/login")


@needs_chromium
async def test_the_undelivered_page_in_a_browser_shows_the_reply_as_text(
    whatsapp_bounded, console_service: Service,
) -> None:
    app, customer = whatsapp_bounded
    await _given_up(app, customer, XSS)
    async with chromium() as browser:
        context = await browser.new_context(base_url=console_service.base_url, locale="en-GB")
        page = await context.new_page()
        page.set_default_timeout(10_000)
        errors: List[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        await page.goto("/console/login")
        await page.fill("#agent_id", "dana")
        await page.fill("#password", PASSWORD)
        await page.click("#login")
        await page.wait_for_selector("#queue-title")
        await page.goto("/console/undelivered")
        row = page.locator(f'#undelivered-list tr[data-cid="{CID}"]')
        await row.wait_for()
        assert await row.locator(".undelivered-text").text_content() == f"bot: {XSS}"
        assert "Twilio answered 503" in (await row.locator(".undelivered-error").text_content() or "")
        assert await page.evaluate("window.__xss") is None
        assert await page.locator('nav a[aria-current="page"]').text_content() == "Undelivered"
        assert errors == []
        await context.close()


def test_the_production_waits_double_up_to_their_cap_and_come_from_the_settings() -> None:
    timings = DeliveryTimings.from_settings(Settings())
    assert timings.attempts == 8 and timings.keep_undelivered_seconds == 30 * 24 * 3600
    # Seven waits between eight attempts: about 10.5 minutes in all before a reply is given up on.
    assert [timings.backoff(n) for n in range(1, 8)] == [5, 10, 20, 40, 80, 160, 320]
    assert timings.backoff(9) == 600  # capped
    chosen = DeliveryTimings.from_settings(Settings.from_env({
        "KESHER_DELIVERY_ATTEMPTS": "3", "KESHER_DELIVERY_BACKOFF_SECONDS": "2",
        "KESHER_DELIVERY_BACKOFF_MAX_SECONDS": "3", "KESHER_UNDELIVERED_DAYS": "7",
    }))
    assert (chosen.attempts, chosen.keep_undelivered_seconds) == (3, 7 * 24 * 3600)
    assert [chosen.backoff(n) for n in (1, 2, 3)] == [2, 3, 3]
