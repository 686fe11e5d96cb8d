"""WhatsApp via Twilio: signatures, numbered options, media, delivery updates, refusals."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from connectors.delivery import GROUP
from handoff.identity import conversation_id
from handoff.models import EventKind
from tests.handoff.helpers import request
from tests.helpers import fake_twilio
from tests.helpers.waiting import until

CID = conversation_id("whatsapp", "+972501234567")


async def _nothing_pending(app: Any) -> bool:
    """No message on the outbound stream waits for a retry (every one read was acknowledged)."""
    pending = await app.rt.redis.xpending(app.rt.keys.outbound(), GROUP)
    return pending["pending"] == 0


async def test_twilio_is_answered_at_once_with_empty_twiml(whatsapp) -> None:
    _app, customer = whatsapp
    response = await customer.say("hi")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/xml")
    assert "<Response></Response>" in response.text
    [reply] = await customer.replies(1)
    assert reply.text.startswith("bot: hi")
    [sent] = customer.twilio.messages_to("whatsapp:+972501234567")
    assert sent.from_ == fake_twilio.WHATSAPP_FROM


async def test_a_number_picks_the_option_it_stands_for(whatsapp) -> None:
    app, customer = whatsapp
    await customer.say("hello")
    [offer] = await customer.replies(1)
    assert "1. Track my order" in offer.text and "2. Talk to a person" in offer.text
    await customer.say("2")
    await customer.replies(2)
    assert app.bot.texts == ["hello", "/human_handoff"]
    # the reply to "2" offered options again; a number outside them is just text
    await customer.say("7")
    await customer.replies(3)
    assert app.bot.texts[-1] == "7"


async def test_a_number_means_itself_once_a_message_without_options_came(whatsapp) -> None:
    app, customer = whatsapp
    await customer.say("hello")
    await customer.replies(1)
    await app.rt.store.request(request(CID, channel="whatsapp"))
    await app.rt.store.tell_customer(await app.rt.store.get(CID), "Which order number?")
    await customer.replies(2)
    await app.rt.store.give_up(CID)
    await customer.say("1")
    replies = await customer.replies(3)
    assert app.bot.texts == ["hello", "1"]
    assert replies[-1].text.startswith("bot: 1\n")


async def test_a_photo_is_acknowledged_and_not_sent_to_the_bot(whatsapp) -> None:
    app, customer = whatsapp
    await customer.say("", media=(("https://api.twilio.com/media/ME1", "image/jpeg"),))
    [reply] = await customer.replies(1)
    assert "photo" in reply.text and "text" in reply.text
    assert app.bot.seen == []


async def test_during_a_handoff_a_voice_note_reaches_the_agent(whatsapp) -> None:
    app, customer = whatsapp
    await app.rt.store.request(request(CID, channel="whatsapp"))
    url = "https://api.twilio.com/2010-04-01/Accounts/AC1/Messages/MM1/Media/ME2"
    await customer.say("listen to this", media=((url, "audio/ogg"),))
    [ack] = await customer.replies(1)
    assert "voice message" in ack.text and "team" in ack.text
    [event] = [e for e in await app.rt.store.events(CID) if e.kind is EventKind.CUSTOMER]
    assert event.text == "listen to this"
    assert event.data["media"] == [{"url": url, "content_type": "audio/ogg"}]
    assert app.bot.seen == []


async def test_delivery_updates_are_recorded_against_our_message(whatsapp) -> None:
    app, customer = whatsapp
    await customer.say("hi")
    [sent] = await customer.twilio.wait_for_async("whatsapp:+972501234567")
    for status in ("sent", "delivered", "read"):
        response = await customer.post(fake_twilio.status_params(sent.sid or "", status, sent.to), path="/status")
        assert response.status_code == 200
    statuses = await app.rt.redis.hgetall(app.rt.keys.delivery_status(CID))
    assert list(statuses.values()) == ["read"]


async def test_a_forged_status_update_is_refused(whatsapp) -> None:
    _app, customer = whatsapp
    response = await customer.post(fake_twilio.status_params("SM" + "0" * 32, "failed", "whatsapp:+1"),
                                   path="/status", signature="forged")
    assert response.status_code == 403


async def test_a_message_twilio_refuses_is_dropped_not_retried_forever(whatsapp) -> None:
    app, customer = whatsapp
    customer.twilio.fail_next(1, status=400, code=21211, message="Invalid 'To' Phone Number")
    await customer.say("hi")
    statuses = await until(lambda: app.rt.redis.hgetall(app.rt.keys.delivery_status(CID)),
                           what="the refused message's delivery status")
    assert list(statuses.values()) == ["undeliverable"]
    # Nothing is left to retry, and a retry would reach Twilio before the answer to a later message.
    await until(lambda: _nothing_pending(app), what="the refused message to leave the delivery queue")
    await customer.say("still there?")
    [reply] = await customer.replies(1)
    assert reply.text.startswith("bot: still there?")
    assert [m.body.splitlines()[0] for m in customer.twilio.requests] == ["bot: hi", "bot: still there?"]


async def test_an_outage_at_twilio_is_retried_until_the_message_is_out(whatsapp) -> None:
    _app, customer = whatsapp
    customer.twilio.fail_next(1, status=503)
    await customer.say("hi")
    [reply] = await customer.replies(1)  # the worker takes the unacknowledged message up again
    assert reply.text.startswith("bot: hi")
    assert [r.http_status for r in customer.twilio.requests] == [503, 201]


async def test_a_long_agent_answer_is_split_for_whatsapp(whatsapp) -> None:
    app, customer = whatsapp
    await app.rt.store.request(request(CID, channel="whatsapp"))
    conv = await app.rt.store.get(CID)
    long_text = " ".join(f"word{i}" for i in range(600))  # about 4,500 characters
    await app.rt.store.tell_customer(conv, long_text)
    replies = await customer.replies(3)
    assert all(len(r.text) <= 1600 for r in replies)
    assert " ".join(r.text for r in replies) == long_text


@pytest.mark.parametrize(
    ("change", "status"),
    [
        ("forged-signature", 403),
        ("no-signature", 403),
        ("signed-for-another-url", 403),
        ("not-a-form", 400),
        ("no-from", 400),
        ("not-whatsapp", 400),
        ("no-body-no-media", 400),
        ("too-long", 413),
        ("huge-body", 413),
    ],
)
async def test_bad_webhooks_get_the_right_4xx_and_reach_nobody(whatsapp, change: str, status: int) -> None:
    app, customer = whatsapp
    url = customer.base + "/webhook"
    params = fake_twilio.inbound_params("+972501234567", body="hi")
    headers = fake_twilio.signed_webhook(url, params)
    body: object = params
    if change == "forged-signature":
        headers["X-Twilio-Signature"] = fake_twilio.sign(url, params, "not-the-token")
    elif change == "no-signature":
        del headers["X-Twilio-Signature"]
    elif change == "signed-for-another-url":
        headers["X-Twilio-Signature"] = fake_twilio.sign("https://evil.example/webhook", params)
    elif change == "not-a-form":
        body, headers["Content-Type"] = None, "application/json"
    elif change in ("no-from", "not-whatsapp", "no-body-no-media", "too-long"):
        params = dict(params)
        if change == "no-from":
            del params["From"]
        elif change == "not-whatsapp":
            params["From"] = "+972501234567"
        elif change == "no-body-no-media":
            params["Body"] = ""
        else:
            params["Body"] = "x" * 10_001
        headers = fake_twilio.signed_webhook(url, params)
        body = params
    elif change == "huge-body":
        params = dict(params, Body="x" * 70_000)
        headers = fake_twilio.signed_webhook(url, params)
        body = params
    async with httpx.AsyncClient() as http:
        if body is None:
            response = await http.post(url, content=b'{"Body": "hi"}', headers=headers)
        else:
            response = await http.post(url, data=body, headers=headers)  # type: ignore[arg-type]
    assert response.status_code == status, response.text
    assert response.json()["error"]
    # A good message after the bad one: whatever the bad one caused would reach the customer first.
    await customer.say("a real message")
    [reply] = await customer.replies(1)
    assert reply.text.startswith("bot: a real message")
    assert app.bot.texts == ["a real message"]


async def test_after_a_bot_failure_twilios_retry_is_processed_exactly_once(whatsapp) -> None:
    app, customer = whatsapp
    app.bot.fail_next = 1
    first = await customer.say("hi", message_id="SM" + "e" * 32)
    assert first.status_code == 500 and "could not process" in first.json()["error"]
    retry = await customer.say("hi", message_id="SM" + "e" * 32)  # Twilio retries after our 500
    assert retry.status_code == 200
    [reply] = await customer.replies(1)
    assert reply.text.startswith("bot: hi")
    # Once handled, a further retry of the same message is answered but not run again.
    again = await customer.say("hi", message_id="SM" + "e" * 32)
    assert again.status_code == 200
    await customer.say("marker", message_id="SM" + "f" * 32)
    await customer.replies(2)
    assert app.bot.texts == ["hi", "hi", "marker"]  # the failed turn, its retry, the marker
    assert [r.text.splitlines()[0] for r in customer.received()] == ["bot: hi", "bot: marker"]
