"""Late-order notices and WhatsApp's 24-hour window, end to end: the orders store, real Redis, the channels'
delivery worker, the Twilio and Telegram stand-ins and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import uuid
from dataclasses import replace
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import AsyncIterator, List
from urllib.parse import quote

import httpx
import pytest_asyncio
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.orders.domain import Order
from actions.orders.models import OrderRow
from actions.orders.repository import SqlOrderRepository, _order_from_row
from actions.orders.seed import seed_database
from core.bidi import FSI, PDI, RLM, strip_controls
from core.service_events import EventKind
from core.settings import PROJECT_ROOT, Settings
from handoff.identity import conversation_id
from handoff.models import OutboundMessage
from handoff.notices import estimate_text
from handoff.state import HandoffStore
from tests.console.conftest import Service, english_request, login
from tests.helpers.channels import WhatsAppCustomer, serving_channel, whatsapp_on
from tests.helpers.fake_twilio import FakeTwilio
from tests.helpers.smtp import SmtpSink
from tests.helpers.waiting import until
from wiring.container import Container

TODAY = date.today()
NEW_ESTIMATE = TODAY + timedelta(days=6)
PHONE = "+972501234567"


def _open_orders(repo: SqlOrderRepository, language: str) -> List[Order]:
    """Seeded orders not shipped yet and on time, in ``language``."""
    with Session(repo.engine) as session:
        rows = session.scalars(select(OrderRow).where(OrderRow.status == "processing",
                                                      OrderRow.language == language).order_by(OrderRow.order_id))
        orders = [_order_from_row(row) for row in rows]
    found = [o for o in orders if o.promised_delivery >= TODAY
             and (o.estimated_delivery or o.promised_delivery) <= o.promised_delivery]
    assert found, "the seed has no open, on-time order in that language"
    return found


async def _events(redis: Redis, container: Container, kind: str) -> List[dict]:
    return [fields for _, fields in await redis.xrange(container.keys.service_events()) if fields["kind"] == kind]


@pytest_asyncio.fixture()
async def service(channel_settings: Settings, smtp_sink: SmtpSink, redis_client: Redis,
                  tmp_path: Path) -> AsyncIterator[Container]:
    """The handoff service's side: the orders store (seeded for today), the notices, the mail worker."""
    settings = channel_settings.replace(smtp_host="127.0.0.1", smtp_port=smtp_sink.port,
                                        orders_db_url=f"sqlite:///{tmp_path / 'orders.db'}")
    container = Container(settings)
    seed_database(container.orders.engine, TODAY)
    yield container
    await container.close()


async def test_a_delay_reaches_a_telegram_customer_once_with_a_button_and_by_mail(
        telegram_channel, service: Container, smtp_sink: SmtpSink, redis_client: Redis) -> None:
    _app, customer = telegram_channel
    order = _open_orders(service.orders, "en")[0]
    await customer.say("hi")
    await customer.replies(1)
    cid = conversation_id("telegram", customer.address)
    await service.identity.verified(cid, order.email)  # what the order form records once the customer is verified

    await service.orders.mark_delayed(order.order_id, NEW_ESTIMATE, datetime.now())
    [_, notice] = await customer.replies(2)
    assert f"order {order.order_id}" in notice.text and "running late" in notice.text
    assert estimate_text(NEW_ESTIMATE, "en") in notice.text
    assert notice.buttons == ["Talk to a person"]

    # The same delay again (a retried status change, the scan after it): nothing new; a marker proves it.
    await service.orders.mark_delayed(order.order_id, NEW_ESTIMATE, datetime.now())
    assert await service.notice_scanner().scan_once() >= 0
    await customer.say("marker")
    replies = await customer.replies(3)
    assert replies[-1].text.startswith("bot: marker")
    assert sum("running late" in r.text for r in customer.received()) == 1

    assert await service.mail_worker().run_once() >= 1  # the scan found the seed's other late orders too
    [mail] = [m for m in smtp_sink.messages if m["To"].addresses[0].addr_spec == order.email]
    assert mail["Subject"] == f"Order {order.order_id} is running late"
    body = mail.get_body(("plain",))
    assert body is not None and estimate_text(NEW_ESTIMATE, "en") in body.get_content()
    [event] = [e for e in await _events(redis_client, service, EventKind.NOTICE_SENT) if e["conversation"] == cid]
    assert event["reason"] == "late_order" and event["channel"] == "telegram"


async def test_a_later_new_estimate_is_told_again(telegram_channel, service: Container) -> None:
    _app, customer = telegram_channel
    order = _open_orders(service.orders, "en")[0]
    await customer.say("hi")
    await customer.replies(1)
    await service.identity.verified(conversation_id("telegram", customer.address), order.email)
    await service.orders.mark_delayed(order.order_id, NEW_ESTIMATE, datetime.now())
    await service.orders.mark_delayed(order.order_id, NEW_ESTIMATE + timedelta(days=3), datetime.now())
    replies = await customer.replies(3)
    assert estimate_text(NEW_ESTIMATE + timedelta(days=3), "en") in replies[2].text


async def test_outside_the_24_hour_window_a_whatsapp_notice_goes_as_the_approved_template(
        whatsapp, service: Container, redis_client: Redis) -> None:
    app, customer = whatsapp
    order = _open_orders(service.orders, "he")[0]
    await customer.say("hi")
    await customer.replies(1)
    await service.identity.verified(conversation_id("whatsapp", PHONE), order.email)
    await redis_client.delete(app.rt.keys.whatsapp_window(PHONE))  # the customer last wrote over a day ago

    await service.orders.mark_delayed(order.order_id, NEW_ESTIMATE, datetime.now())
    sent = await customer.twilio.wait_for_async("whatsapp:" + PHONE, 2)
    template = sent[1]
    assert template.body == ""
    assert template.content_sid == service.settings.twilio_content_late_order_he
    variables = template.content_variables
    assert {k: strip_controls(v) for k, v in variables.items()} == {
        "1": order.first_name, "2": order.order_id, "3": strip_controls(estimate_text(NEW_ESTIMATE, "he"))}
    # a Hebrew template's values carry the marks a normal Hebrew message has: the order number cannot turn the line
    assert variables["2"] == f"{RLM}{order.order_id}{RLM}"
    assert all(v.startswith(RLM) and FSI not in v and PDI not in v for v in variables.values())


async def test_inside_the_window_the_whatsapp_notice_is_text_with_a_numbered_option(
        whatsapp, service: Container) -> None:
    _app, customer = whatsapp
    order = _open_orders(service.orders, "he")[0]
    await customer.say("שלום")
    await customer.replies(1)
    await service.identity.verified(conversation_id("whatsapp", PHONE), order.email)
    await service.orders.mark_delayed(order.order_id, NEW_ESTIMATE, datetime.now())
    sent = await customer.twilio.wait_for_async("whatsapp:" + PHONE, 2)
    assert sent[1].content_sid is None
    body = strip_controls(sent[1].body)
    assert f"הזמנה {order.order_id}" in body and "1. לדבר עם נציג" in body


async def test_an_agent_reply_outside_the_window_goes_as_the_we_replied_template(whatsapp, redis_client) -> None:
    app, customer = whatsapp
    await customer.say("hi")
    await customer.replies(1)
    await redis_client.delete(app.rt.keys.whatsapp_window(PHONE))
    cid = conversation_id("whatsapp", PHONE)
    await app.rt.queue_outbound(OutboundMessage(message_id=uuid.uuid4().hex, cid=cid, channel="whatsapp",
                                                kind="agent", author_name="Dana", language="en",
                                                text="Your refund went out today.\nAnything else?"))
    sent = await customer.twilio.wait_for_async("whatsapp:" + PHONE, 2)
    assert sent[1].content_sid == app.rt.settings.twilio_content_agent_reply_en
    assert sent[1].content_variables == {"1": "Dana", "2": "Your refund went out today. Anything else?"}


async def test_a_hebrew_agent_reply_outside_the_window_gets_marks_and_whatsapps_bold(whatsapp, redis_client) -> None:
    app, customer = whatsapp
    await customer.say("שלום")
    await customer.replies(1)
    await redis_client.delete(app.rt.keys.whatsapp_window(PHONE))
    cid = conversation_id("whatsapp", PHONE)
    await app.rt.queue_outbound(OutboundMessage(message_id=uuid.uuid4().hex, cid=cid, channel="whatsapp",
                                                kind="agent", author_name="Sarah", language="he",
                                                text=f"ההזמנה {FSI}K-D901A7{PDI} **יצאה היום**.\nעוד משהו?"))
    sent = await customer.twilio.wait_for_async("whatsapp:" + PHONE, 2)
    assert sent[1].content_sid == app.rt.settings.twilio_content_agent_reply_he and sent[1].body == ""
    name, text = sent[1].content_variables["1"], sent[1].content_variables["2"]
    # the same treatment as a message inside the window (connectors/bidi_text.py): marks, not isolates, and *bold*
    assert name == f"{RLM}Sarah{RLM}"  # a Latin name cannot turn the template's Hebrew line
    assert text == f"{RLM}ההזמנה {RLM}K-D901A7{RLM} *יצאה היום*. עוד משהו?{RLM}"
    assert "**" not in text and FSI not in text and PDI not in text


async def test_an_agent_reply_inside_the_window_is_plain_text(whatsapp) -> None:
    app, customer = whatsapp
    await customer.say("hi")
    await customer.replies(1)
    await app.rt.queue_outbound(OutboundMessage(message_id=uuid.uuid4().hex, cid=conversation_id("whatsapp", PHONE),
                                                channel="whatsapp", kind="agent", author_name="Dana",
                                                text="Your refund went out today."))
    sent = await customer.twilio.wait_for_async("whatsapp:" + PHONE, 2)
    assert sent[1].content_sid is None and sent[1].body == "*Dana*: Your refund went out today."


async def test_without_a_template_the_reply_is_flagged_on_the_undelivered_list_with_the_reason(
        channel_settings: Settings, twilio: FakeTwilio, redis_client: Redis) -> None:
    twilio.clear()
    settings = channel_settings.replace(twilio_content_agent_reply_en="", twilio_content_agent_reply_he="")
    async with serving_channel(whatsapp_on(twilio), settings) as app:
        customer = WhatsAppCustomer(app.base, twilio)
        await customer.say("hi")
        await customer.replies(1)
        await redis_client.delete(app.rt.keys.whatsapp_window(PHONE))
        message_id = uuid.uuid4().hex
        await app.rt.queue_outbound(OutboundMessage(message_id=message_id, cid=conversation_id("whatsapp", PHONE),
                                                    channel="whatsapp", kind="agent", author_name="Dana",
                                                    language="en", text="Your refund went out today."))
        entries = await until(lambda: redis_client.xrange(app.rt.keys.undelivered()),
                              what="the reply on the undelivered list")
        [(_, entry)] = entries
        assert entry["message_id"] == message_id and entry["refused"] == "1"
        assert "24-hour window" in entry["error"] and "TWILIO_CONTENT_AGENT_REPLY_EN" in entry["error"]
        assert len(twilio.messages_to("whatsapp:" + PHONE)) == 1  # only the bot's answer to "hi"


async def test_stop_opts_the_customer_out_and_the_next_delay_reaches_nobody(
        telegram_channel, service: Container, smtp_sink: SmtpSink) -> None:
    app, customer = telegram_channel
    order = _open_orders(service.orders, "he")[0]
    await customer.say("שלום")
    await customer.replies(1)
    await service.identity.verified(conversation_id("telegram", customer.address), order.email)
    # The channel's router is the one that takes "stop"; it shares Redis with the service.
    await customer.say("הסר")
    [_, confirmation] = await customer.replies(2)
    assert strip_controls(confirmation.text).startswith("בוצע. מעכשיו לא נשלח לכם עוד הודעות יזומות")
    assert app.bot.texts == ["שלום"]  # "stop" never reached the bot

    await service.orders.mark_delayed(order.order_id, NEW_ESTIMATE, datetime.now())
    await customer.say("marker")
    replies = await customer.replies(3)
    assert replies[-1].text.startswith("bot: marker")
    assert await service.mail_worker().run_once() == 0
    assert smtp_sink.messages == []
    assert not any("מתעכבת" in r.text for r in customer.received())


async def test_a_web_customer_finds_the_notice_when_the_widget_next_loads(web, service: Container) -> None:
    app, customer = web
    order = _open_orders(service.orders, "en")[1]
    await customer.open()
    await customer.say("hi")
    await customer.replies(1)
    await customer.close()  # the customer left the site
    cid = conversation_id("web", customer.address)
    await service.identity.verified(cid, order.email)

    await service.orders.mark_delayed(order.order_id, NEW_ESTIMATE, datetime.now())

    async def kept() -> bool:
        return any("running late" in row for row in await app.rt.redis.lrange(app.rt.keys.web_history(cid), 0, -1))

    await until(kept, what="the notice kept in the conversation's history")

    hello = await customer.open()  # the next visit
    notices = [m for m in hello["history"] if "running late" in m.get("text", "")]
    assert len(notices) == 1
    assert estimate_text(NEW_ESTIMATE, "en") in notices[0]["text"]
    assert [b["title"] for b in notices[0]["buttons"]] == ["Talk to a person"]
    await customer.close()


async def test_an_agent_reply_whatsapp_would_refuse_shows_on_the_console_with_the_reason(
        channel_settings: Settings, twilio: FakeTwilio, redis_client: Redis, console_service: Service,
        http: httpx.AsyncClient, live_store: HandoffStore) -> None:
    twilio.clear()
    settings = channel_settings.replace(twilio_content_agent_reply_en="", twilio_content_agent_reply_he="")
    async with serving_channel(whatsapp_on(twilio), settings) as app:
        customer = WhatsAppCustomer(app.base, twilio)
        cid = conversation_id("whatsapp", PHONE)
        await customer.say("hi")
        await customer.replies(1)
        await live_store.request(replace(english_request(cid), channel="whatsapp"))
        await redis_client.delete(app.rt.keys.whatsapp_window(PHONE))  # Friday's chat, answered on Sunday
        csrf = await login(http, "dana")
        headers = {"X-CSRF-Token": csrf}
        await http.post("/console/api/presence", json={"status": "online"}, headers=headers)
        assert (await http.post(f"/console/api/chats/{quote(cid, safe='')}/take", headers=headers)).status_code == 200
        sent = await http.post(f"/console/api/chats/{quote(cid, safe='')}/messages",
                               json={"text": "Your refund went out today."}, headers=headers)
        assert sent.status_code == 201, sent.text

        async def flagged() -> bool:
            page = await http.get("/console/undelivered")
            return "Your refund went out today." in page.text

        await until(flagged, what="the reply on the console's undelivered page")
        page = await http.get("/console/undelivered")
        assert "24-hour window" in page.text and "TWILIO_CONTENT_AGENT_REPLY_EN" in page.text
        assert not any("refund" in m.body for m in twilio.messages_to("whatsapp:" + PHONE))


# -- the operator's status change: python -m kesher order-delay ------------------------------------------------
def _kesher(args: List[str], settings: Settings) -> subprocess.CompletedProcess[str]:
    """``python -m kesher ARGS`` as an operator runs it, on the test's Redis and orders database."""
    return subprocess.run([sys.executable, "-m", "kesher", *args], cwd=PROJECT_ROOT, env=settings.child_env(),
                          capture_output=True, text=True, timeout=120)


async def test_an_operator_delays_an_order_and_its_customer_is_told_at_once_and_once(
        telegram_channel, service: Container, smtp_sink: SmtpSink, redis_client: Redis) -> None:
    _app, customer = telegram_channel
    order = _open_orders(service.orders, "en")[2]
    await customer.say("hi")
    await customer.replies(1)
    cid = conversation_id("telegram", customer.address)
    await service.identity.verified(cid, order.email)

    command = ["order-delay", order.order_id, NEW_ESTIMATE.isoformat()]
    done = await asyncio.to_thread(_kesher, command, service.settings)
    assert done.returncode == 0, done.stderr
    assert f"Order {order.order_id} is delayed; new estimated delivery {NEW_ESTIMATE.isoformat()}." in done.stdout
    assert "Its customer was told now" in done.stdout and order.email in done.stdout
    stored = await service.orders.get(order.order_id)
    assert stored is not None and stored.status == "delayed" and stored.estimated_delivery == NEW_ESTIMATE
    # At once, with no scan: the chat notice on the customer's channel, in their language, with the button ...
    [_, notice] = await customer.replies(2)
    assert f"order {order.order_id}" in notice.text and "running late" in notice.text
    assert estimate_text(NEW_ESTIMATE, "en") in notice.text and notice.buttons == ["Talk to a person"]
    # ... and the e-mail, which the handoff service's mail worker sends.
    assert await service.mail_worker().run_once() == 1
    [mail] = smtp_sink.messages
    assert mail["To"].addresses[0].addr_spec == order.email
    assert mail["Subject"] == f"Order {order.order_id} is running late"
    [event] = [e for e in await _events(redis_client, service, EventKind.NOTICE_SENT) if e["conversation"] == cid]
    assert event["reason"] == "late_order" and event["channel"] == "telegram"

    # The same command again (or the scan after it): nothing new; a marker proves it.
    again = await asyncio.to_thread(_kesher, command, service.settings)
    assert again.returncode == 0 and "already been told of this estimate" in again.stdout
    assert await service.notice_scanner().scan_once() >= 0
    await customer.say("marker")
    replies = await customer.replies(3)
    assert replies[-1].text.startswith("bot: marker")
    assert sum("running late" in r.text for r in customer.received()) == 1
    assert [m for m in smtp_sink.messages if m["Subject"] == mail["Subject"]] == [mail]
