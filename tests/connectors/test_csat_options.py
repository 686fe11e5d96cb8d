"""The rating question is one tap on every channel: the answer reaches the bot as the rating's payload.

A stand-in for Rasa asks the catalog's question (``csat_bot_question``) the way ``action_ask_csat``
does; the customer answers as each channel lets them: a button on the widget, an inline
keyboard button on Telegram, a quick-reply button on WhatsApp (Twilio's Content API, when the
``csat`` template is configured) or else the option's number. An agent's close asks too, and on
WhatsApp the tap is the rating the handoff router records.
"""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import Any, AsyncIterator, List

import pytest
from rasa.core.channels.channel import UserMessage

from connectors.telegram import TelegramChannel
from connectors.web import WebChannel
from core.service_events import ServiceEvent
from core.settings import Settings
from handoff.identity import conversation_id
from handoff.models import HandoffRequest
from tests.connectors.conftest import TELEGRAM_SECRET, WEB_SECRET
from tests.helpers import fake_telegram
from tests.helpers.channels import (
    EchoBot,
    TelegramCustomer,
    WebCustomer,
    WhatsAppCustomer,
    serving_channel,
    whatsapp_on,
)
from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.fake_twilio import FakeTwilio
from tests.helpers.texts import catalog
from tests.helpers.waiting import until

pytestmark = pytest.mark.asyncio

FOUR = '/rate{"rating":"4"}'
CSAT_EN = "HX" + "5" * 32  # the approved quick-reply template's Content SID


class AsksForARating(EchoBot):
    """Answers every message with the rating question, in English."""

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append((message.sender_id, message.text))
        question = catalog().message("csat_bot_question", "en")
        await message.output_channel.send_response(message.sender_id, question.dispatcher_kwargs())


@asynccontextmanager
async def _whatsapp_customer(twilio: FakeTwilio, settings: Settings, bot: EchoBot) -> AsyncIterator[WhatsAppCustomer]:
    """A WhatsApp customer of the channel served with ``settings`` and ``bot``, the Twilio stand-in emptied first."""
    twilio.clear()
    async with serving_channel(whatsapp_on(twilio), settings, bot=bot) as app:
        yield WhatsAppCustomer(app.base, twilio)


async def test_on_whatsapp_without_the_template_the_ratings_are_numbered_and_the_number_is_the_rating(
        channel_settings: Settings, twilio: FakeTwilio, redis_client: Any) -> None:
    bot = AsksForARating()
    settings = channel_settings.replace(twilio_content_csat_en="", twilio_content_csat_he="")
    async with _whatsapp_customer(twilio, settings, bot) as customer:
        await customer.say("thanks!")
        [question] = await customer.replies(1)
        assert catalog().text("csat_bot_question", "en") in question.text
        assert "1. ★ Poor" in question.text and "5. ★★★★★ Excellent" in question.text
        await customer.say("4")
        await customer.replies(2)
    assert bot.texts == ["thanks!", FOUR]


async def test_on_whatsapp_the_question_is_a_quick_reply_template_and_a_tap_is_the_rating(
        channel_settings: Settings, twilio: FakeTwilio, redis_client: Any) -> None:
    bot = AsksForARating()
    async with _whatsapp_customer(twilio, channel_settings.replace(twilio_content_csat_en=CSAT_EN), bot) as customer:
        await customer.say("thanks!")
        [question] = await twilio.wait_for_async("whatsapp:" + customer.phone, 1)
        assert (question.content_sid, question.body) == (CSAT_EN, "")
        assert question.content_variables == {"1": catalog().text("csat_bot_question", "en")}
        # Twilio sends the tapped button's title as the text and its id as ButtonPayload.
        await customer.tap("★★★★ Very good", "4")
        await customer.replies(2)
    assert bot.texts == ["thanks!", FOUR]


async def test_on_whatsapp_a_refused_rating_template_still_asks_with_numbers(
        channel_settings: Settings, twilio: FakeTwilio, redis_client: Any) -> None:
    bot = AsksForARating()
    async with _whatsapp_customer(twilio, channel_settings.replace(twilio_content_csat_en=CSAT_EN), bot) as customer:
        twilio.fail_next(1, status=400, code=63016, message="template not approved")  # the first send: the template
        await customer.say("thanks!")  # opens the 24-hour window
        [question] = await customer.replies(1)
        assert "1. ★ Poor" in question.text
        assert [m.content_sid for m in twilio.requests if m.to == "whatsapp:" + customer.phone] == [CSAT_EN, None]
        await customer.say("4")
        await customer.replies(2)
    assert bot.texts == ["thanks!", FOUR]


async def test_on_whatsapp_another_templates_button_arrives_as_its_title(
        channel_settings: Settings, twilio: FakeTwilio, redis_client: Any) -> None:
    bot = EchoBot()
    async with _whatsapp_customer(twilio, channel_settings, bot) as customer:
        await customer.tap("Talk to a person", "talk_to_person")  # an operator's own button id
        await customer.replies(1)
    assert bot.texts == ["Talk to a person"]


async def test_on_whatsapp_a_tap_rates_the_agent_who_closed_the_chat(
        channel_settings: Settings, twilio: FakeTwilio, redis_client: Any) -> None:
    twilio.clear()
    async with serving_channel(whatsapp_on(twilio), channel_settings.replace(twilio_content_csat_en=CSAT_EN)) as app:
        customer = WhatsAppCustomer(app.base, twilio)
        await customer.say("hi")
        await customer.replies(1)
        desk = app.rt.router.desk
        cid = conversation_id("whatsapp", customer.address)
        await desk.request(HandoffRequest(cid=cid, channel="whatsapp", language="en", reason="explicit_request",
                                          reference="K-C5A7C5", contact=f"{cid}@1700000000"))
        sarah = desk.agents.get("sarah")
        assert sarah is not None
        assert (await desk.take(cid, sarah, require_online=False)).ok
        assert (await desk.close(cid, sarah, "resolved")).ok
        sent = await until(lambda: [m for m in twilio.messages_to("whatsapp:" + customer.phone) if m.content_sid],
                           what="the rating question", timeout=30)
        closing = desk.texts.text("closed_no_email", "en", agent=sarah.display_name("en"))
        assert [(m.content_sid, m.content_variables) for m in sent] == [(CSAT_EN, {"1": closing})]

        await customer.tap("★★★★", "4")
        conv = await until(lambda: _rated(app.rt.router.store, cid), what="the rating recorded", timeout=30)
        assert conv.csat_rating == 4
        await customer.say("no")
        csat = await until(lambda: _csat_events(redis_client, app.rt.keys, cid), what="the csat event", timeout=30)
    assert [(e.value, e.reason, e.agent, e.team) for e in csat] == [(4.0, "agent", "sarah", "orders")]  # her team


async def _rated(store: Any, cid: str) -> Any:
    conv = await store.get(cid)
    return conv if conv is not None and conv.csat_rating else None


async def _csat_events(redis: Any, keys: Any, cid: str) -> List[ServiceEvent]:
    events = [ServiceEvent.from_fields(f) for _, f in await redis.xrange(keys.service_events())]
    return [e for e in events if e.kind == "csat" and e.conversation == cid]


async def test_on_telegram_the_ratings_are_an_inline_keyboard(channel_settings: Settings, telegram: FakeTelegram,
                                                              redis_client: Any) -> None:
    telegram.clear()
    bot = AsksForARating()

    def make(rt: Any) -> TelegramChannel:
        return TelegramChannel(fake_telegram.DEFAULT_TOKEN, TELEGRAM_SECRET, api_base=telegram.base_url, rt=rt)

    async with serving_channel(make, channel_settings, bot=bot) as app:
        customer = TelegramCustomer(app.base, telegram, secret=TELEGRAM_SECRET)
        await customer.say("thanks!")
        [question] = await customer.replies(1)
        assert question.buttons == ["★ Poor", "★★ Fair", "★★★ Good", "★★★★ Very good", "★★★★★ Excellent"]
        [sent] = telegram.sent_messages(customer.chat_id)
        fourth = sent["reply_markup"]["inline_keyboard"][3][0]["callback_data"]
        await customer.press(fourth, message_id=int(sent.get("message_id", 1)))
        await customer.replies(2)
    assert bot.texts == ["thanks!", FOUR]


async def test_on_the_widget_the_ratings_are_buttons(channel_settings: Settings, redis_client: Any) -> None:
    bot = AsksForARating()
    async with serving_channel(lambda rt: WebChannel(WEB_SECRET, rt=rt), channel_settings, bot=bot) as app:
        customer = WebCustomer(app.base)
        await customer.open()
        try:
            await customer.say("thanks!")
            await customer.replies(1)
            [frame] = customer.messages()
            assert [b["payload"] for b in frame["buttons"]] == [f'/rate{{"rating":"{n}"}}' for n in range(1, 6)]
            await customer.say(frame["buttons"][3]["title"], payload=frame["buttons"][3]["payload"])
            await customer.replies(2)
        finally:
            await customer.close()
    assert bot.texts == ["thanks!", FOUR]
