"""The loopback Twilio and Telegram fakes, driven by the real twilio client and the real PTB Bot."""

from __future__ import annotations

import asyncio
import re
from typing import Any, AsyncIterator, Dict, Iterator, List, Tuple

import pytest
import pytest_asyncio
import telegram
from aiohttp import web
from telegram import InlineKeyboardButton, InlineKeyboardMarkup, MessageEntity, Update
from telegram.constants import ChatAction
from telegram.error import BadRequest, Forbidden, InvalidToken, NetworkError, RetryAfter
from telegram.ext import filters
from telegram.request import HTTPXRequest
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from tests.helpers.fake_telegram import FakeTelegram, callback_update, text_update, webhook_headers
from tests.helpers.fake_twilio import (
    WHATSAPP_FROM,
    FakeTwilio,
    inbound_params,
    sign,
    signed_webhook,
    status_params,
)

CUSTOMER = "whatsapp:+972501234567"
CHAT = 4242
YES = InlineKeyboardMarkup([[InlineKeyboardButton("Yes", callback_data="/affirm")]])


# -- Twilio ---------------------------------------------------------------------------------------


@pytest.fixture()
def fake_twilio(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeTwilio]:
    # An edge or region makes the client rewrite the host name, which would miss the fake.
    monkeypatch.delenv("TWILIO_EDGE", raising=False)
    monkeypatch.delenv("TWILIO_REGION", raising=False)
    with FakeTwilio() as fake:
        yield fake


def twilio_client(fake: FakeTwilio, auth_token: str = "", **http_kwargs: Any) -> Tuple[Client, AsyncTwilioHttpClient]:
    """A real async twilio Client aimed at the fake (call inside the running loop)."""
    http = AsyncTwilioHttpClient(**http_kwargs)
    client = Client(fake.account_sid, auth_token or fake.auth_token, http_client=http)
    client.api.base_url = fake.base_url
    return client, http


async def test_twilio_create_async_parses_and_is_recorded(fake_twilio: FakeTwilio) -> None:
    client, http = twilio_client(fake_twilio)
    try:
        message = await client.messages.create_async(
            to=CUSTOMER, from_=WHATSAPP_FROM, body="שלום, hi", status_callback="https://kesher.test/status"
        )
    finally:
        await http.close()

    assert re.fullmatch(r"SM[0-9a-f]{32}", str(message.sid))
    assert (message.status, message.to, message.from_, message.body) == ("queued", CUSTOMER, WHATSAPP_FROM, "שלום, hi")
    assert (message.num_segments, message.direction) == ("1", "outbound-api")
    assert message.account_sid == fake_twilio.account_sid
    assert message.date_created is not None and message.date_created.tzinfo is not None
    assert message.uri == f"/2010-04-01/Accounts/{fake_twilio.account_sid}/Messages/{message.sid}.json"

    [sent] = fake_twilio.wait_for(CUSTOMER, 1, timeout=5)
    assert (sent.to, sent.from_, sent.body, sent.sid) == (CUSTOMER, WHATSAPP_FROM, "שלום, hi", message.sid)
    assert sent.status_callback == "https://kesher.test/status"
    assert sent.media_url == [] and sent.raw["Body"] == ["שלום, hi"]
    assert fake_twilio.messages_to("whatsapp:+972500000000") == []


async def test_twilio_media_and_async_wait(fake_twilio: FakeTwilio) -> None:
    client, http = twilio_client(fake_twilio)
    urls = ["https://kesher.test/a.png", "https://kesher.test/b.pdf"]
    try:
        waiter = asyncio.create_task(fake_twilio.wait_for_async(CUSTOMER, 2, timeout=10))
        first = await client.messages.create_async(to=CUSTOMER, from_=WHATSAPP_FROM, media_url=urls)
        await client.messages.create_async(to=CUSTOMER, from_=WHATSAPP_FROM, body="second")
        got = await waiter
    finally:
        await http.close()
    assert str(first.sid).startswith("MM") and first.num_media == "2"
    assert [m.media_url for m in got] == [urls, []]
    assert [m.body for m in got] == ["", "second"]


async def test_twilio_records_a_content_api_template_and_refuses_bad_variables(fake_twilio: FakeTwilio) -> None:
    client, http = twilio_client(fake_twilio)
    sid = "HX" + "a" * 32
    try:
        await client.messages.create_async(to=CUSTOMER, from_=WHATSAPP_FROM, content_sid=sid,
                                           content_variables='{"1": "דנה", "2": "104233"}')
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(to=CUSTOMER, from_=WHATSAPP_FROM, content_sid=sid,
                                               content_variables="not json")
    finally:
        await http.close()
    [sent] = fake_twilio.messages
    assert (sent.content_sid, sent.content_variables, sent.body) == (sid, {"1": "דנה", "2": "104233"}, "")
    assert (caught.value.status, caught.value.code) == (400, 21656)


async def test_twilio_wrong_token_is_the_librarys_401(fake_twilio: FakeTwilio) -> None:
    client, http = twilio_client(fake_twilio, auth_token="not-the-token")
    try:
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(to=CUSTOMER, from_=WHATSAPP_FROM, body="hi")
    finally:
        await http.close()
    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert "Authenticate" in caught.value.msg
    assert fake_twilio.messages == []
    assert [r.http_status for r in fake_twilio.requests] == [401]


async def test_twilio_fail_next_then_success_and_library_retries(fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(1, status=503)
    client, http = twilio_client(fake_twilio)
    try:
        with pytest.raises(TwilioRestException) as caught:
            await client.messages.create_async(to=CUSTOMER, from_=WHATSAPP_FROM, body="one")
        assert (caught.value.status, caught.value.code) == (503, 20503)
        await client.messages.create_async(to=CUSTOMER, from_=WHATSAPP_FROM, body="one")
    finally:
        await http.close()
    assert [(r.body, r.http_status) for r in fake_twilio.requests] == [("one", 503), ("one", 201)]
    assert [m.body for m in fake_twilio.messages] == ["one"]

    fake_twilio.clear()
    fake_twilio.fail_next(2, status=500)
    client, http = twilio_client(fake_twilio, max_retries=3)  # aiohttp_retry retries 5xx
    try:
        await client.messages.create_async(to=CUSTOMER, from_=WHATSAPP_FROM, body="two")
    finally:
        await http.close()
    assert [r.http_status for r in fake_twilio.requests] == [500, 500, 201]


async def test_twilio_rejects_what_twilio_rejects(fake_twilio: FakeTwilio) -> None:
    client, http = twilio_client(fake_twilio)
    try:
        with pytest.raises(TwilioRestException) as too_long:
            await client.messages.create_async(to=CUSTOMER, from_=WHATSAPP_FROM, body="x" * 1601)
        with pytest.raises(TwilioRestException) as empty:
            await client.messages.create_async(to=CUSTOMER, from_=WHATSAPP_FROM)
    finally:
        await http.close()
    assert (too_long.value.status, too_long.value.code) == (400, 21617)
    assert (empty.value.status, empty.value.code) == (400, 21619)
    assert fake_twilio.messages == []


def test_twilio_sync_client(fake_twilio: FakeTwilio) -> None:
    client = Client(fake_twilio.account_sid, fake_twilio.auth_token)
    client.api.base_url = fake_twilio.base_url
    message = client.messages.create(to=CUSTOMER, from_=WHATSAPP_FROM, body="sync")
    assert fake_twilio.wait_for(CUSTOMER, 1, timeout=5)[0].sid == message.sid


def test_twilio_webhook_builders_and_signature() -> None:
    token = "a-real-looking-token"
    url = "https://kesher.test/webhooks/whatsapp/webhook?tenant=1"
    params = inbound_params(
        "+972501234567", body="יש לי בעיה", profile_name="Dana",
        media=[("https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME1", "image/jpeg")],
    )
    assert params["From"] == CUSTOMER and params["To"] == WHATSAPP_FROM and params["WaId"] == "972501234567"
    assert params["NumMedia"] == "1" and params["MediaContentType0"] == "image/jpeg"
    assert params["MessageSid"] == params["SmsSid"] == params["SmsMessageSid"] and params["MessageSid"].startswith("MM")
    assert (params["SmsStatus"], params["ApiVersion"], params["ProfileName"]) == ("received", "2010-04-01", "Dana")
    assert inbound_params(CUSTOMER, body="hi", message_sid="SM123")["MessageSid"] == "SM123"

    validator = RequestValidator(token)
    signature = sign(url, params, token)
    assert validator.validate(url, params, signature)
    assert not validator.validate(url, {**params, "Body": "tampered"}, signature)
    assert not validator.validate(url, params, sign(url, params, "another-token"))
    headers = signed_webhook(url, params, token)
    assert headers["X-Twilio-Signature"] == signature
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"

    status = status_params("SM" + "a" * 32, "undelivered", "+972501234567", error_code=63016)
    assert status["MessageStatus"] == status["SmsStatus"] == "undelivered"
    assert status["ErrorCode"] == "63016"
    assert (status["To"], status["From"], status["ChannelPrefix"]) == (CUSTOMER, WHATSAPP_FROM, "whatsapp")
    assert status["MessageSid"] == status["SmsSid"] == "SM" + "a" * 32
    assert "ErrorCode" not in status_params("SM1", "delivered", CUSTOMER)
    assert validator.validate(url, status, sign(url, status, token))


# -- Telegram -------------------------------------------------------------------------------------


@pytest.fixture()
def fake_telegram() -> Iterator[FakeTelegram]:
    with FakeTelegram() as fake:
        yield fake


@pytest_asyncio.fixture()
async def bot(fake_telegram: FakeTelegram) -> AsyncIterator[telegram.Bot]:
    async with telegram.Bot(fake_telegram.token, base_url=fake_telegram.base_url + "/bot") as real_bot:
        yield real_bot


async def test_telegram_send_message_needs_no_initialize(fake_telegram: FakeTelegram) -> None:
    # Without initialize() Bot.shutdown() closes nothing, so this test owns its request objects.
    request, updates_request = HTTPXRequest(), HTTPXRequest()
    bot = telegram.Bot(fake_telegram.token, base_url=fake_telegram.base_url + "/bot",
                       request=request, get_updates_request=updates_request)
    try:
        sent = await bot.send_message(CHAT, "שלום", reply_markup=YES)
        again = await bot.send_message(CHAT, "עוד")
    finally:
        await request.shutdown()
        await updates_request.shutdown()

    assert [c.method for c in fake_telegram.calls] == ["sendMessage", "sendMessage"]  # no getMe
    assert (sent.message_id, again.message_id) == (1, 2)
    assert (sent.chat.id, sent.chat.type, sent.text) == (CHAT, "private", "שלום")
    assert sent.from_user is not None and sent.from_user.id == fake_telegram.bot_id and sent.from_user.is_bot
    assert sent.reply_markup == YES
    first = fake_telegram.sent_messages(CHAT)[0]
    assert first["chat_id"] == CHAT
    assert first["reply_markup"] == {"inline_keyboard": [[{"text": "Yes", "callback_data": "/affirm"}]]}
    assert fake_telegram.texts(CHAT) == ["שלום", "עוד"]
    assert fake_telegram.texts(CHAT + 1) == []


async def test_telegram_bot_methods(fake_telegram: FakeTelegram, bot: telegram.Bot) -> None:
    assert (bot.id, bot.username) == (fake_telegram.bot_id, "kesher_test_bot")  # from getMe

    sent = await bot.send_message(CHAT, "Continue?", reply_markup=YES)
    assert await bot.answer_callback_query("cbq-7", text="OK") is True
    assert await bot.send_chat_action(CHAT, ChatAction.TYPING) is True
    assert await bot.set_webhook("https://kesher.test/webhooks/telegram/webhook", secret_token="s3cret",
                                 allowed_updates=["message", "callback_query"]) is True
    info = await bot.get_webhook_info()
    edited = await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=None)
    with pytest.raises(BadRequest, match=r"(?i)message is not modified"):
        await bot.edit_message_reply_markup(CHAT, sent.message_id, reply_markup=None)
    photo = await bot.send_photo(CHAT, b"\x89PNG\r\n\x1a\n-fake-", caption="תמונה")
    by_url = await bot.send_photo(CHAT, "https://kesher.test/p.jpg")

    assert info.url == "https://kesher.test/webhooks/telegram/webhook"
    assert info.allowed_updates == ("message", "callback_query")
    assert fake_telegram.webhook is not None
    assert fake_telegram.webhook["secret_token"] == "s3cret"
    assert isinstance(edited, telegram.Message) and edited.reply_markup is None and edited.text == "Continue?"
    assert photo.photo and photo.caption == "תמונה" and by_url.photo
    assert fake_telegram.calls_of("answerCallbackQuery")[0].params == {"callback_query_id": "cbq-7", "text": "OK"}
    assert fake_telegram.calls_of("sendChatAction")[0].params == {"chat_id": CHAT, "action": "typing"}
    upload = fake_telegram.calls_of("sendPhoto")[0].params["photo"]
    assert upload["data"] == b"\x89PNG\r\n\x1a\n-fake-"
    assert fake_telegram.calls_of("sendPhoto")[1].params["photo"] == "https://kesher.test/p.jpg"
    assert [c.status for c in fake_telegram.calls_of("editMessageReplyMarkup", include_failed=True)] == [200, 400]

    assert await bot.delete_webhook() is True
    assert fake_telegram.webhook is None


async def test_telegram_wrong_token(fake_telegram: FakeTelegram) -> None:
    bot = telegram.Bot("123:wrong", base_url=fake_telegram.base_url + "/bot")
    with pytest.raises(InvalidToken):
        await bot.initialize()
    with pytest.raises(InvalidToken, match="Unauthorized"):
        await bot.send_message(CHAT, "hi")
    await bot.shutdown()
    assert [(c.method, c.status) for c in fake_telegram.calls] == [("getMe", 401), ("sendMessage", 401)]
    assert fake_telegram.sent_messages(CHAT) == []


async def test_telegram_fail_next_and_errors(fake_telegram: FakeTelegram, bot: telegram.Bot) -> None:
    fake_telegram.fail_next(1, status=500, method="sendMessage")
    await bot.send_chat_action(CHAT, ChatAction.TYPING)  # another method is not affected
    with pytest.raises(NetworkError):
        await bot.send_message(CHAT, "one")
    await bot.send_message(CHAT, "one")
    fake_telegram.fail_next(1, status=429, retry_after=3)
    with pytest.raises(RetryAfter) as flood:
        await bot.send_message(CHAT, "two")
    fake_telegram.fail_next(1, status=403)
    with pytest.raises(Forbidden, match="blocked"):
        await bot.send_message(CHAT, "three")
    with pytest.raises(BadRequest, match=r"(?i)message is too long"):
        await bot.send_message(CHAT, "א" * 4097)
    with pytest.raises(BadRequest, match=r"(?i)button_data_invalid"):
        await bot.send_message(CHAT, "x", reply_markup=InlineKeyboardMarkup(
            [[InlineKeyboardButton("x", callback_data="d" * 65)]]))

    assert flood.value.retry_after == 3
    assert fake_telegram.texts(CHAT) == ["one"]
    statuses = [c.status for c in fake_telegram.calls_of("sendMessage", include_failed=True)]
    assert statuses == [500, 200, 429, 403, 400, 400]


async def test_telegram_wait_for_async(fake_telegram: FakeTelegram, bot: telegram.Bot) -> None:
    async def later() -> None:
        for text in ("a", "b"):
            await bot.send_message(CHAT, text)

    task = asyncio.create_task(later())  # runs once the wait below has begun and yields the loop
    assert fake_telegram.calls_of("sendMessage") == []
    calls = await fake_telegram.wait_for_async("sendMessage", 2, timeout=10, chat_id=CHAT)
    await task
    assert [c.params["text"] for c in calls] == ["a", "b"]
    with pytest.raises(AssertionError, match="timed out"):
        fake_telegram.wait_for("sendMessage", lambda cs: len(cs) > 2, timeout=0.2)


async def test_telegram_update_builders(bot: telegram.Bot) -> None:
    start = Update.de_json(text_update(10, CHAT, "/start"), bot)
    assert start.effective_chat is not None and start.effective_chat.id == CHAT
    assert start.message is not None and start.message.text == "/start"
    assert start.message.entities == (MessageEntity(MessageEntity.BOT_COMMAND, 0, 6),)
    assert filters.COMMAND.check_update(start)
    assert start.effective_user is not None and start.effective_user.language_code == "he"

    text = Update.de_json(text_update(11, CHAT, "שלום", first_name="Avi", language_code="en"), bot)
    assert text.message is not None and text.message.text == "שלום" and not text.message.entities
    assert not filters.COMMAND.check_update(text)
    assert text.effective_user is not None and text.effective_user.first_name == "Avi"

    press = Update.de_json(callback_update(12, CHAT, "/affirm", message_id=5, message_text="Continue?"), bot)
    query = press.callback_query
    assert query is not None and query.data == "/affirm" and query.id == "cbq-12"
    assert press.effective_chat is not None and press.effective_chat.id == CHAT
    assert isinstance(query.message, telegram.Message) and query.message.message_id == 5
    assert query.message.from_user is not None and query.message.from_user.id == bot.id
    assert press.effective_user is not None and press.effective_user.id == CHAT


async def test_telegram_deliver_to_webhook(fake_telegram: FakeTelegram, bot: telegram.Bot) -> None:
    received: List[Tuple[Dict[str, Any], str]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((await request.json(), request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")))
        return web.Response(text="ok")

    app = web.Application()
    app.router.add_post("/tg", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        with pytest.raises(AssertionError, match="no webhook"):
            await fake_telegram.deliver_async(text_update(1, CHAT, "hi"))
        await bot.set_webhook(f"http://127.0.0.1:{port}/tg", secret_token="s3cret")
        response = await fake_telegram.deliver_async(text_update(1, CHAT, "hi"))
    finally:
        await runner.cleanup()
    assert response.status_code == 200
    [(update, secret)] = received
    assert secret == "s3cret"
    assert (update["update_id"], update["message"]["chat"]["id"], update["message"]["text"]) == (1, CHAT, "hi")
    assert webhook_headers("s3cret")["X-Telegram-Bot-Api-Secret-Token"] == "s3cret"
