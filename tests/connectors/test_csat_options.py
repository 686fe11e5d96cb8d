"""The bot's rating question is one tap on every channel: the answer reaches the bot as the rating's payload.

A stand-in for Rasa asks the catalog's question (``csat_bot_question``) the way ``action_ask_csat``
does; the customer answers as each channel lets them: a button on the widget, an inline
keyboard button on Telegram, the option's number on WhatsApp.
"""

from __future__ import annotations

from typing import Any

import pytest
from rasa.core.channels.channel import UserMessage

from connectors.telegram import TelegramChannel
from connectors.web import WebChannel
from core.settings import Settings
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

pytestmark = pytest.mark.asyncio

FOUR = '/rate{"rating":"4"}'


class AsksForARating(EchoBot):
    """Answers every message with the rating question, in English."""

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append((message.sender_id, message.text))
        question = catalog().message("csat_bot_question", "en")
        await message.output_channel.send_response(message.sender_id, question.dispatcher_kwargs())


async def test_on_whatsapp_the_ratings_are_numbered_and_the_number_is_the_rating(
        channel_settings: Settings, twilio: FakeTwilio, redis_client: Any) -> None:
    twilio.clear()
    bot = AsksForARating()
    async with serving_channel(whatsapp_on(twilio), channel_settings, bot=bot) as app:
        customer = WhatsAppCustomer(app.base, twilio)
        await customer.say("thanks!")
        [question] = await customer.replies(1)
        assert catalog().text("csat_bot_question", "en") in question.text
        assert "1. ★ Poor" in question.text and "5. ★★★★★ Excellent" in question.text
        await customer.say("4")
        await customer.replies(2)
    assert bot.texts == ["thanks!", FOUR]


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
