"""Telegram via python-telegram-bot: secret token, /start, inline buttons, media, refusals, webhook CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest

from connectors.delivery import GROUP
from core.settings import Settings
from handoff.identity import conversation_id
from tests.connectors.conftest import TELEGRAM_SECRET
from tests.handoff.helpers import request
from tests.helpers import fake_telegram
from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.waiting import until

ROOT = Path(__file__).resolve().parents[2]
CHAT = 424242
CID = conversation_id("telegram", str(CHAT))


async def _nothing_pending(app: Any) -> bool:
    """No message on the outbound stream waits for a retry (every one read was acknowledged)."""
    pending = await app.rt.redis.xpending(app.rt.keys.outbound(), GROUP)
    return pending["pending"] == 0


async def test_start_greets(telegram_channel) -> None:
    app, customer = telegram_channel
    response = await customer.say("/start")
    assert response.status_code == 200
    await customer.replies(1)
    assert app.bot.texts == ["/greet"]


async def test_buttons_are_an_inline_keyboard_and_a_press_sends_the_payload(telegram_channel) -> None:
    app, customer = telegram_channel
    await customer.say("hello")
    [offer] = await customer.replies(1)
    assert offer.buttons == ["Track my order", "Talk to a person"]
    [sent] = customer.telegram.sent_messages(CHAT)
    keyboard = sent["reply_markup"]["inline_keyboard"]
    assert keyboard[1][0]["callback_data"] == "/human_handoff"
    await customer.press("/human_handoff", message_id=int(sent.get("message_id", 1)))
    await customer.replies(2)
    assert app.bot.texts == ["hello", "/human_handoff"]
    answered = await customer.telegram.wait_for_async("answerCallbackQuery")
    assert answered[0].params["callback_query_id"].startswith("cbq-")


async def test_a_payload_longer_than_telegram_allows_comes_back_whole(telegram_channel) -> None:
    app, customer = telegram_channel
    payload = '/order_status{"order_id": "KS-104233", "task": "change_address", "note": "' + "x" * 60 + '"}'
    await app.rt.store.request(request(CID, channel="telegram"))
    conv = await app.rt.store.get(CID)
    await app.rt.store.give_up(CID)
    await app.rt.store.tell_customer(conv, "Which one?", buttons=(("Change the address", payload),))
    await customer.replies(1)
    [sent] = customer.telegram.sent_messages(CHAT)
    data = sent["reply_markup"]["inline_keyboard"][0][0]["callback_data"]
    assert len(data.encode()) <= 64 and data != payload
    await customer.press(data, message_id=1)
    await customer.replies(2)
    assert app.bot.texts == [payload]


async def test_a_photo_is_acknowledged(telegram_channel) -> None:
    app, customer = telegram_channel
    update = fake_telegram.text_update(9001, CHAT, "")
    del update["message"]["text"]
    update["message"]["photo"] = [{"file_id": "AgAD", "file_unique_id": "u1", "width": 90, "height": 90}]
    response = await customer.post(update)
    assert response.status_code == 200
    [reply] = await customer.replies(1)
    assert "photo" in reply.text
    assert app.bot.seen == []


async def test_an_edit_is_accepted_and_ignored(telegram_channel) -> None:
    app, customer = telegram_channel
    update = fake_telegram.text_update(9002, CHAT, "edited")
    update["edited_message"] = update.pop("message")
    response = await customer.post(update)
    assert response.status_code == 200 and response.json()["routed"] == []
    assert app.bot.seen == []


async def test_a_customer_who_blocked_the_bot_is_not_retried(telegram_channel) -> None:
    app, customer = telegram_channel
    customer.telegram.fail_next(1, status=403, method="sendMessage",
                                description="Forbidden: bot was blocked by the user")
    await customer.say("hi")
    statuses = await until(lambda: app.rt.redis.hgetall(app.rt.keys.delivery_status(CID)),
                           what="the blocked message's delivery status")
    assert list(statuses.values()) == ["undeliverable"]
    # Nothing is left to retry, and a retry would reach Telegram before the answer to a later message.
    await until(lambda: _nothing_pending(app), what="the blocked message to leave the delivery queue")
    await customer.say("unblocked again")
    [reply] = await customer.replies(1)
    assert reply.text == "bot: unblocked again"
    sends = customer.telegram.calls_of("sendMessage", include_failed=True)
    assert [(c.status, c.params["text"]) for c in sends] == [(403, "bot: hi"), (200, "bot: unblocked again")]


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ("wrong-secret", 403),
        ("no-secret", 403),
        ("not-json", 400),
        ("not-an-object", 400),
        ("no-update-id", 400),
        ("broken-message", 400),
        ("too-long-text", 413),
        ("huge-body", 413),
        ("message-not-an-object", 400),
        ("message-without-chat", 400),
        ("chat-id-not-a-number", 400),
        ("callback-data-not-text", 400),
        ("extreme-date", 400),
        ("negative-date", 400),
        ("text-not-a-string", 400),
        ("lone-surrogate-text", 400),
        ("nested-5000", 400),
        ("update-id-is-a-bool", 400),
    ],
)
async def test_bad_updates_get_the_right_4xx_and_reach_nobody(telegram_channel, change: str, status: int) -> None:
    app, customer = telegram_channel
    update = fake_telegram.text_update(9100, CHAT, "hi")
    headers = fake_telegram.webhook_headers(TELEGRAM_SECRET)
    body = json.dumps(update)
    if change == "wrong-secret":
        headers = fake_telegram.webhook_headers("guess")
    elif change == "no-secret":
        headers = fake_telegram.webhook_headers(None)
    elif change == "not-json":
        body = "{update_id: 1"
    elif change == "not-an-object":
        body = "[1, 2]"
    elif change == "no-update-id":
        del update["update_id"]
        body = json.dumps(update)
    elif change == "broken-message":
        update["message"]["chat"] = "not a chat"
        body = json.dumps(update)
    elif change == "too-long-text":
        update["message"]["text"] = "x" * 10_001
        body = json.dumps(update)
    elif change == "huge-body":
        update["message"]["text"] = "x" * 300_000
        body = json.dumps(update)
    elif change == "message-not-an-object":
        body = json.dumps({"update_id": 9100, "message": "x"})
    elif change == "message-without-chat":
        del update["message"]["chat"]
        body = json.dumps(update)
    elif change == "chat-id-not-a-number":
        update["message"]["chat"]["id"] = "424242"
        body = json.dumps(update)
    elif change == "callback-data-not-text":
        press = fake_telegram.callback_update(9100, CHAT, "/greet", message_id=1)
        press["callback_query"]["data"] = {"not": "text"}
        body = json.dumps(press)
    elif change == "extreme-date":
        update["message"]["date"] = 10**20
        body = json.dumps(update)
    elif change == "negative-date":
        update["message"]["date"] = -(10**15)
        body = json.dumps(update)
    elif change == "text-not-a-string":
        update["message"]["text"] = ["hi"]
        body = json.dumps(update)
    elif change == "lone-surrogate-text":
        body = json.dumps(update).replace('"text": "hi"', '"text": "hi \\ud800"')
        assert "\\ud800" in body
    elif change == "nested-5000":
        body = json.dumps(update)[:-1] + ', "x": ' + "[" * 5000 + "]" * 5000 + "}"
    elif change == "update-id-is-a-bool":
        update["update_id"] = True
        body = json.dumps(update)
    async with httpx.AsyncClient() as http:
        response = await http.post(customer.base + "/webhook", content=body, headers=headers)
    assert response.status_code == status, response.text
    assert response.json()["error"]
    assert app.bot.seen == []
    # A good update after the bad one: whatever the bad one caused would reach the customer first.
    await customer.say("a real message")
    [reply] = await customer.replies(1)
    assert reply.text == "bot: a real message"
    assert app.bot.texts == ["a real message"]


def test_the_webhook_is_registered_by_a_command(telegram: FakeTelegram) -> None:
    env = Settings(telegram_token=fake_telegram.DEFAULT_TOKEN, telegram_secret_token="from-the-environment",
                   telegram_api_base=telegram.base_url).child_env()
    url = "https://bot.shop.example/webhooks/telegram/webhook"
    done = subprocess.run([sys.executable, "-m", "kesher", "telegram-webhook", "--url", url],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert url in done.stdout
    assert telegram.webhook is not None
    assert telegram.webhook["url"] == url and telegram.webhook["secret_token"] == "from-the-environment"


def test_a_rejected_token_is_reported_by_the_command(telegram: FakeTelegram) -> None:
    env = Settings(telegram_token="1:wrong", telegram_api_base=telegram.base_url).child_env()
    done = subprocess.run([sys.executable, "-m", "kesher", "telegram-webhook", "--url", "https://x.example/w"],
                          env=env, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "Telegram refused" in done.stderr
