"""The real bot on WhatsApp, Telegram and the web widget, and one customer moving between them.

The whole stack runs as processes (redis-server, SMTP, actions, `rasa run` with
the channels from credentials.yml, the handoff service). Twilio's and
Telegram's APIs are local fakes that record what Kesher sends; the customer's
side of each channel is what the provider would POST.
"""

from __future__ import annotations

import asyncio
import time
from typing import Callable, List

import pytest

from handoff.identity import conversation_id
from tests.e2e.conftest import TELEGRAM_SECRET
from tests.helpers.backends import orders_where, pick
from tests.helpers.channels import Reply, TelegramCustomer, WebCustomer, WhatsAppCustomer
from tests.helpers.console import ConsoleAgent

pytestmark = pytest.mark.stack


def _has(fragment: str) -> Callable[[List[Reply]], bool]:
    return lambda replies: any(fragment.lower() in r.text.lower() for r in replies)


async def _until(customer: object, predicate: Callable[[List[Reply]], bool], seconds: float = 90) -> List[Reply]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got = customer.received()  # type: ignore[attr-defined]
        if predicate(got):
            return got
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out; received {[r.text for r in customer.received()]}")  # type: ignore[attr-defined]


async def test_whatsapp_customer_gets_the_bot_in_their_language_with_numbered_options(stack, stack_settings, twilio):
    customer = WhatsAppCustomer(f"{stack_settings.rasa_url}/webhooks/whatsapp", twilio, phone="+972521000001")
    response = await customer.say("מה שעות הפתיחה של החנויות?")
    assert response.status_code == 200 and "<Response>" in response.text
    replies = await _until(customer, lambda r: len(r) >= 1)
    assert any("10:00" in r.text for r in replies) and all(r.text for r in replies)
    assert any("\u0590" <= ch <= "\u05ff" for ch in replies[0].text)  # answered in Hebrew

    await customer.say("I want to talk to a human")
    queued = await _until(customer, _has("in line"))
    assert not any("can't" in r.text and "chat" in r.text for r in queued)  # a live channel: really queued


async def test_telegram_customer_starts_and_presses_a_button(stack, stack_settings, telegram):
    customer = TelegramCustomer(f"{stack_settings.rasa_url}/webhooks/telegram", telegram, chat_id=777001,
                                secret=TELEGRAM_SECRET)
    assert (await customer.say("/start")).status_code == 200
    greeting = await _until(customer, lambda r: len(r) >= 1)
    assert greeting[0].text
    await customer.say("how much does delivery cost?")
    answer = await _until(customer, _has("29.90"))
    assert answer


async def test_a_customer_moves_from_the_website_to_whatsapp_while_with_an_agent(
    stack, stack_settings, stack_orders, twilio
):
    order = pick(orders_where(stack_orders, status="delayed", language="en"), seed=23)
    web = WebCustomer(f"{stack_settings.rasa_url}/webhooks/web")
    await web.open()
    agent = ConsoleAgent(stack_settings, "sarah")
    cid = ""
    try:
        # On the website: verified, then handed to Sarah.
        await web.say("where is my order?")
        await _until(web, _has("order number"))
        await web.say(order.order_id)
        await _until(web, _has("e-mail"))
        await web.say(order.email)
        await _until(web, _has(order.order_id))
        await web.say("I want to talk to a human")
        await _until(web, _has("in line"))
        cid = conversation_id("web", web.address)
        agent.presence("online")
        await _until(web, _has("Sarah from our team has joined"))
        agent.send(cid, "Hi, I'm looking at your order now.")
        await _until(web, _has("looking at your order"))

        # On WhatsApp: the same order and e-mail join this chat to the open one.
        wa = WhatsAppCustomer(f"{stack_settings.rasa_url}/webhooks/whatsapp", twilio, phone="+972521000002")
        await wa.say("where is my order?")
        await _until(wa, _has("order number"))
        await wa.say(order.order_id)
        await _until(wa, _has("e-mail"))
        await wa.say(order.email)
        welcome = await _until(wa, _has("Welcome back"))
        assert any("Sarah" in r.text for r in welcome)

        # From now on WhatsApp messages go to Sarah, with everything from the website.
        await wa.say("I'm on my phone now. Is the kettle still coming?")
        texts = agent.wait_customer_texts(cid, lambda t: "I'm on my phone now. Is the kettle still coming?" in t)
        assert "I'm on my phone now. Is the kettle still coming?" in texts
        panel = agent.get(f"/api/chats/{cid}/panel")
        assert panel["verified"] and any(o["order_id"] == order.order_id for o in panel["orders"])
        notes = [e["text"] for e in agent.events(cid) if e["kind"] == "note"]
        assert any("whatsapp" in n for n in notes)

        # Sarah's answer reaches WhatsApp exactly once, and not the old web page.
        before_web = len(web.received())
        agent.send(cid, "Yes: it left the warehouse this morning.")
        await _until(wa, _has("left the warehouse"))
        await asyncio.sleep(1.5)
        answers = [r.text for r in wa.received() if "left the warehouse" in r.text]
        assert answers == ["*Sarah*: Yes: it left the warehouse this morning."]
        assert len(web.received()) == before_web
    finally:
        if cid:
            agent.close(cid, "resolved")
        agent.presence("away")  # the other live tests start with nobody online
        await web.close()
