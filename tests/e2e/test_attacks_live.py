"""The attacks of issue #13 on the channels, tried on the whole stack as an attacker would.

A WhatsApp customer verifies a shipped order with the real bot. Then a caller
names that customer's conversation as its ``sender`` on the REST channel and on
the loopback channel: without the token or the secret it is refused; with them
it only reaches a conversation of its own, which knows no order.
"""

from __future__ import annotations

import asyncio

import httpx
import pytest

from connectors.callback import SECRET_HEADER
from handoff.identity import conversation_id
from tests.helpers.backends import orders_where, pick
from tests.helpers.callback import CallbackCustomer, CallbackInbox
from tests.helpers.channels import WhatsAppCustomer
from tests.helpers.stack import Customer
from tests.helpers.waiting import until

pytestmark = pytest.mark.stack

PHONE = "+972521000077"
VICTIM = conversation_id("whatsapp", PHONE)


async def _answered(victim: WhatsAppCustomer, text: str) -> None:
    before = len(victim.received())
    assert (await victim.say(text)).status_code == 200
    await until(lambda: len(victim.received()) > before, what=f"the bot's answer to {text!r}", timeout=90)


async def test_a_verified_customers_conversation_cannot_be_named_on_rest_or_callback(
        stack, stack_settings, stack_orders, twilio, inbox: CallbackInbox) -> None:
    order = pick([o for o in orders_where(stack_orders, status="shipped", language="en") if o.tracking_number], seed=7)
    tracking = str(order.tracking_number)
    victim = WhatsAppCustomer(f"{stack_settings.rasa_url}/webhooks/whatsapp", twilio, phone=PHONE)
    for text in ("where is my order?", order.order_id, order.email):
        await _answered(victim, text)

    def told_tracking() -> bool:
        return any(tracking in r.text for r in victim.received())

    await until(told_tracking, what="the victim's order status with its tracking number", timeout=90)
    heard = len(victim.received())

    url = f"{stack_settings.rasa_url}/webhooks/kesher_rest/webhook"
    body = {"sender": VICTIM, "message": "where is my order?"}
    async with httpx.AsyncClient(timeout=60) as http:
        assert (await http.post(url, json=body)).status_code == 401
        assert (await http.post(url, json=body, headers={"Authorization": "Bearer guess"})).status_code == 403
        attacker = Customer(stack_settings, sender_id=VICTIM)
        for text in ("where is my order?", "what's the status of my order?"):
            reply = await asyncio.to_thread(attacker.say, text)
            assert tracking not in reply.text and order.order_id not in reply.text
        assert attacker.cid == f"kesher_rest:{VICTIM}"

        callback = CallbackCustomer(stack_settings, inbox, sender_id=VICTIM)
        refused = await http.post(callback.url, json={"sender": VICTIM, "message": "cancel"})
    assert refused.status_code == 403 and SECRET_HEADER in refused.json()["error"]
    answers = await asyncio.to_thread(callback.say, "where is my order?", lambda msgs: len(msgs) >= 1)
    assert all(tracking not in m["text"] for m in answers)
    assert callback.cid == f"kesher_callback:{VICTIM}"
    # The victim heard none of it: every answer went to the attacker.
    assert len(victim.received()) == heard
