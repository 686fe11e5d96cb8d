"""The real bot on WhatsApp, Telegram and the web widget, and one customer moving between them.

The whole stack runs as processes (redis-server, SMTP, actions, `rasa run` with
the channels from credentials.yml, the handoff service). Twilio's and
Telegram's APIs are local fakes that record what Kesher sends; the customer's
side of each channel is what the provider would POST.
"""

from __future__ import annotations

from typing import Callable, List, Protocol

import pytest

from handoff.identity import conversation_id
from tests.e2e.conftest import TELEGRAM_SECRET
from tests.helpers import fake_telegram
from tests.helpers.backends import orders_where, pick
from tests.helpers.channels import Reply, TelegramCustomer, WebCustomer, WhatsAppCustomer
from tests.helpers.console import ConsoleAgent
from tests.helpers.waiting import until

pytestmark = pytest.mark.stack


def _has(fragment: str) -> Callable[[List[Reply]], bool]:
    return lambda replies: any(fragment.lower() in r.text.lower() for r in replies)


class _Reading(Protocol):
    def received(self) -> List[Reply]: ...


async def _until(customer: _Reading, predicate: Callable[[List[Reply]], bool], seconds: float = 90) -> List[Reply]:
    """Everything the customer received, once it satisfies ``predicate``."""
    seen: List[List[Reply]] = []

    def satisfied() -> bool:
        seen.append(customer.received())
        return predicate(seen[-1])

    try:
        await until(satisfied, what="the customer's replies", timeout=seconds, every=0.2)
    except AssertionError as exc:
        raise AssertionError(f"{exc}; received {[r.text for r in seen[-1]]}") from None
    return seen[-1]


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
    [greeting] = await _until(customer, lambda r: len(r) >= 1)
    assert "virtual assistant" in greeting.text
    assert greeting.buttons == ["Where's my order?", "Start a return", "Talk to a person"]
    # The customer taps "Where's my order?" under the greeting: the bot asks for the number.
    [sent] = [c for c in telegram.calls_of("sendMessage") if str(c.params["chat_id"]) == customer.address]
    [[button], *_] = sent.params["reply_markup"]["inline_keyboard"]
    tap = fake_telegram.callback_update(778001, customer.chat_id, button["callback_data"],
                                        message_id=sent.result["message_id"], language_code="en")
    pressed = await customer.post(tap)
    assert pressed.status_code == 200 and pressed.json()["routed"] == ["bot"]
    replies = await _until(customer, lambda r: len(r) >= 2)
    assert "order number" in replies[1].text
    # The tap is acknowledged, so Telegram stops showing the button as loading.
    await telegram.wait_for_async(
        "answerCallbackQuery", lambda calls: any(c.params["callback_query_id"] == "cbq-778001" for c in calls))
    await customer.say("how much does delivery cost?")
    await _until(customer, _has("29.90"))


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
        question = "I'm on my phone now. Is the kettle still coming?"
        await wa.say(question)
        texts = agent.wait_customer_texts(cid, lambda t: question in t)
        assert texts.count(question) == 1 and texts[-1] == question
        panel = agent.get(f"/api/chats/{cid}/panel")
        assert panel["verified"] and any(o["order_id"] == order.order_id for o in panel["orders"])
        notes = [e["text"] for e in agent.events(cid) if e["kind"] == "note"]
        assert any("whatsapp" in n for n in notes)

        # Sarah's answer reaches WhatsApp exactly once, and not the old web page.
        before_web = len(web.received())
        agent.send(cid, "Yes: it left the warehouse this morning.")
        await _until(wa, _has("left the warehouse"))
        # Her next message as a marker: a second copy of the answer would reach WhatsApp before it.
        agent.send(cid, "Anything else?")
        replies = await _until(wa, _has("Anything else?"))
        answers = [r.text for r in replies if "left the warehouse" in r.text]
        assert answers == ["*Sarah*: Yes: it left the warehouse this morning."]
        assert replies[-1].text == "*Sarah*: Anything else?"
        assert len(web.received()) == before_web
    finally:
        if cid:
            agent.close(cid, "resolved")
        agent.presence("away")  # the other live tests start with nobody online
        await web.close()
