"""Nothing lost when the bot fails: a provider's retry is processed, and after three failures a person answers.

Each channel is served over real HTTP on the session's redis-server; Twilio and
Telegram are the local fakes; the bot is a stand-in that fails on demand.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator, List, Tuple

import pytest
import pytest_asyncio
from rasa.core.channels.channel import UserMessage

from connectors.web import WebChannel
from core.bidi import strip_controls
from core.settings import Settings
from handoff.desk import BOT_ERROR
from handoff.identity import conversation_id
from handoff.models import ConversationState, EventKind
from tests.connectors.test_widget_texts import ShopSite
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.channels import ChannelApp, EchoBot, WhatsAppCustomer, serving_channel, whatsapp_on
from tests.helpers.fake_twilio import FakeTwilio
from tests.helpers.texts import catalog
from tests.helpers.waiting import until

QUESTION = "Where is my order 104233? It was due on Sunday."


@pytest.fixture(params=["whatsapp", "telegram"])
def provider_channel(request: pytest.FixtureRequest) -> Any:
    """Each channel whose provider retries a webhook we answered with a 5xx, with its customer."""
    return request.getfixturevalue({"whatsapp": "whatsapp", "telegram": "telegram_channel"}[request.param])


def _message_id(channel: str, n: int = 0) -> str:
    """A provider message id of the channel's shape."""
    return str(9100 + n) if channel == "telegram" else "SM" + f"{n:x}" * 32


async def test_after_three_bot_failures_a_person_has_the_conversation_and_the_message(provider_channel) -> None:
    app, customer = provider_channel
    channel = app.channel.name()
    cid = conversation_id(channel, customer.address)
    app.bot.fail_next = 100  # the model fails on everything
    statuses = [(await customer.say(QUESTION, message_id=_message_id(channel))).status_code for _ in range(3)]
    # Twice a 500, so the provider retries; the third failure hands the conversation to a person.
    assert statuses == [500, 500, 200]
    conv = await app.rt.store.get(cid)
    assert conv is not None and conv.state is ConversationState.QUEUED and conv.reason == BOT_ERROR
    assert conv.asked == [QUESTION]
    customer_events = [e for e in await app.rt.store.events(cid) if e.kind is EventKind.CUSTOMER]
    assert [e.text for e in customer_events] == [QUESTION]  # the agent reads what the customer wrote
    assert await app.rt.store.queue() == [cid]
    # The customer is told, politely, instead of silence.
    notice, place = await customer.replies(2)
    assert notice.text == catalog().text("bot_error_handoff", "en")
    assert "number 1 in line" in place.text
    # A further retry of the same message changes nothing.
    assert (await customer.say(QUESTION, message_id=_message_id(channel))).status_code == 200
    assert app.bot.texts == [QUESTION] * 3
    assert [e.text for e in await app.rt.store.events(cid) if e.kind is EventKind.CUSTOMER] == [QUESTION]


async def test_a_hebrew_customer_is_told_in_hebrew(whatsapp) -> None:
    app, customer = whatsapp
    app.bot.fail_next = 100
    for _ in range(3):
        await customer.say("איפה ההזמנה שלי? כבר עברו שבועיים", message_id="SM" + "a" * 32)
    notice, _place = await customer.replies(2)
    assert strip_controls(notice.text) == strip_controls(catalog().text("bot_error_handoff", "he"))


async def test_a_retry_after_one_failure_reaches_the_bot_and_nobody_else(provider_channel) -> None:
    app, customer = provider_channel
    channel = app.channel.name()
    app.bot.fail_next = 1
    assert (await customer.say("hello", message_id=_message_id(channel, 1))).status_code == 500
    assert (await customer.say("hello", message_id=_message_id(channel, 1))).status_code == 200
    [reply] = await customer.replies(1)
    assert reply.text.startswith("bot: hello")
    assert await app.rt.store.get(conversation_id(channel, customer.address)) is None  # no handoff


async def test_the_widget_gets_an_error_it_resends_from_and_then_a_person(web) -> None:
    app, customer = web
    await customer.open()
    cid = conversation_id("web", customer.address)
    app.bot.fail_next = 100
    for attempt in range(1, 3):
        await customer.say(QUESTION, message_id="w-1")
        await customer.wait(lambda frames, n=attempt: len([f for f in frames if f["type"] == "error"]) >= n)
    errors = [f for f in customer.frames if f["type"] == "error"]
    assert [(e["status"], e["message_id"]) for e in errors] == [(500, "w-1"), (500, "w-1")]
    await customer.say(QUESTION, message_id="w-1")  # what widget.js does with such an error: the same message again
    await customer.replies(2)
    assert customer.messages()[0]["text"] == catalog().text("bot_error_handoff", "en")
    assert await app.rt.store.state(cid) is ConversationState.QUEUED
    # The history holds the customer's message once, however many times it was sent.
    history = [json.loads(r) for r in await app.rt.redis.lrange(app.rt.keys.web_history(cid), 0, -1)]
    assert [h["text"] for h in history if h["role"] == "customer"] == [QUESTION]


class HeldBot(EchoBot):
    """A bot that answers only once the test lets it: a message stays "being processed" meanwhile."""

    def __init__(self) -> None:
        super().__init__()
        self.started = asyncio.Event()
        self.go_on = asyncio.Event()

    async def __call__(self, message: UserMessage) -> None:
        self.started.set()
        await self.go_on.wait()
        await super().__call__(message)


@pytest_asyncio.fixture()
async def held_whatsapp(channel_settings: Settings, twilio: FakeTwilio, redis_client: Any,
                        ) -> AsyncIterator[Tuple[ChannelApp, WhatsAppCustomer, HeldBot]]:
    twilio.clear()
    bot = HeldBot()

    async with serving_channel(whatsapp_on(twilio), channel_settings, bot=bot) as app:
        yield app, WhatsAppCustomer(app.base, twilio), bot


async def test_a_retry_while_the_first_is_processed_is_refused_for_later(held_whatsapp) -> None:
    _app, customer, bot = held_whatsapp
    first = asyncio.create_task(customer.say("slow one", message_id="SM" + "c" * 32))
    await asyncio.wait_for(bot.started.wait(), 10)
    concurrent = await customer.say("slow one", message_id="SM" + "c" * 32)
    assert concurrent.status_code == 409  # the provider tries again later; not run twice meanwhile
    bot.go_on.set()
    assert (await first).status_code == 200
    later = await customer.say("slow one", message_id="SM" + "c" * 32)
    assert later.status_code == 200
    await until(lambda: customer.received(), what="the answer to the slow message")
    assert bot.texts == ["slow one"]


@needs_chromium
async def test_the_widget_in_a_browser_sends_again_until_a_person_has_it(web) -> None:
    app, _ = web
    app.bot.fail_next = 100
    shop = ShopSite(app.base)
    assert isinstance(app.channel, WebChannel)
    app.channel.allowed_origins = {shop.base_url}  # the shop's own pages embed the widget
    try:
        async with chromium() as browser:
            context = await browser.new_context(locale="en-GB")
            page = await context.new_page()
            page.set_default_timeout(15_000)
            errors: List[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(f"{shop.base_url}/en")
            await page.click("#kesher-launcher")
            await page.fill("#kesher-input", QUESTION)
            await page.press("#kesher-input", "Enter")
            notice = catalog().text("bot_error_handoff", "en")
            await page.locator(".kesher-msg--system", has_text=notice).wait_for()
            assert await page.locator(".kesher-msg--customer", has_text=QUESTION).count() == 1
            assert errors == []
            await context.close()
    finally:
        shop.close()
    assert app.bot.texts == [QUESTION] * 3  # the first try and the widget's two resends
    [cid] = [sender for sender, _ in app.bot.seen[:1]]
    assert await app.rt.store.state(cid) is ConversationState.QUEUED


@pytest_asyncio.fixture()
async def whatsapp_without_retries(redis_server: Any, tmp_path: Any, twilio: FakeTwilio, redis_client: Any,
                                   ) -> AsyncIterator[Tuple[ChannelApp, WhatsAppCustomer]]:
    """WhatsApp where a person takes a message the bot failed on if Twilio has not retried it in 0.3 s."""
    twilio.clear()
    settings = Settings(var_dir=tmp_path, bot_retry_grace_seconds=0.3).with_ports(
        redis=redis_server.port, rasa=1, actions=1)

    async with serving_channel(whatsapp_on(twilio), settings) as app:
        yield app, WhatsAppCustomer(app.base, twilio)


async def test_a_message_twilio_never_retries_after_a_bot_failure_goes_to_a_person(whatsapp_without_retries) -> None:
    app, customer = whatsapp_without_retries
    cid = conversation_id("whatsapp", customer.address)
    app.bot.fail_next = 1
    assert (await customer.say(QUESTION, message_id="SM" + "b" * 32)).status_code == 500
    # Twilio does not retry a 500 unless told to: the message is not lost for all that.
    notice, _place = await customer.replies(2)
    assert notice.text == catalog().text("bot_error_handoff", "en")
    conv = await app.rt.store.get(cid)
    assert conv is not None and conv.state is ConversationState.QUEUED and conv.reason == BOT_ERROR
    assert [e.text for e in await app.rt.store.events(cid) if e.kind is EventKind.CUSTOMER] == [QUESTION]
    # A retry that comes after all is answered, not run again.
    assert (await customer.say(QUESTION, message_id="SM" + "b" * 32)).status_code == 200
    assert app.bot.texts == [QUESTION]
