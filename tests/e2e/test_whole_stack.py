"""One Hebrew and one English conversation through the real stack.

redis-server, the action server and `rasa run` run as separate processes on
free loopback ports; the customer talks over Rasa's REST channel. Each
conversation asks an FAQ, asks a knowledge-base question, checks an order
after proving it is theirs, and asks for a human.
"""

from __future__ import annotations

import pytest
import redis

from core.redis_keys import TrackerKeys
from tests.helpers.backends import orders_where, pick
from tests.helpers.stack import Customer

pytestmark = pytest.mark.stack



def test_english_conversation(stack, stack_settings, stack_orders):
    order = pick(orders_where(stack_orders, status="shipped", language="en"))
    assert order.carrier and order.tracking_number  # a shipped order has them
    customer = Customer(stack_settings)

    greeting = customer.say("Hello!")
    assert greeting.is_english() and "virtual assistant" in greeting.text
    assert "Kesher Shop's virtual assistant" in greeting.text and "{brand}" not in greeting.text  # the brand slot

    faq = customer.say("how much do you charge for delivery?")
    assert "₪29.90" in faq.text and "299" in faq.text

    kb = customer.say("how often should I descale my kettle")
    assert "https://shop.example.com/help/descaling-coffee-machine" in kb.text

    ask = customer.say("where is my order?")
    assert "order number" in ask.text
    ask_contact = customer.say(order.order_id)
    assert order.order_id in ask_contact.text and "e-mail" in ask_contact.text
    assert order.carrier not in ask_contact.text  # nothing revealed before verification
    status = customer.say(order.email)
    assert order.carrier in status.text and order.tracking_number in status.text

    handoff = customer.say("I'd like to talk to a real person please")
    assert "member of our team" in handoff.text
    slots = customer.slots()
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "explicit_request"
    assert slots["handoff_reference"] in handoff.text
    assert slots["language"] == "en" and slots["verified_email"] == order.email

    # The conversation is kept in Redis (Kesher's tracker store), as a list of events under our prefix.
    client = redis.Redis(port=stack_settings.redis_port)
    keys = TrackerKeys(stack_settings.tracker_key_prefix)
    assert client.llen(keys.events(customer.cid)) > 20
    assert not client.exists(keys.legacy(customer.cid))


def test_an_article_that_does_not_say_what_was_asked_is_not_shown(stack, stack_settings):
    # The NLU's article check travels in the parse data to the action server, which leaves the article out.
    customer = Customer(stack_settings)
    customer.say("Hello!")
    covered = customer.say("how often should I descale my kettle")
    assert "https://shop.example.com/help/descaling-coffee-machine" in covered.text
    detail = customer.say("can I descale my kettle with coca cola?")  # the article says nothing of cola
    assert "/help/" not in detail.text and "couldn't find" in detail.text
    assert customer.slots()["human_offered"] is True


def test_hebrew_conversation(stack, stack_settings, stack_orders):
    order = pick(orders_where(stack_orders, status="processing", language="he"))
    customer = Customer(stack_settings)

    greeting = customer.say("שלום")
    assert greeting.is_hebrew() and "איפה ההזמנה שלי?" in greeting.buttons
    assert "העוזר הווירטואלי של חנות קשר" in greeting.text  # the brand in Hebrew, from the catalog

    faq = customer.say("באיזה אמצעי תשלום אפשר לשלם אצלכם?")
    assert faq.is_hebrew() and "ביט" in faq.text

    kb = customer.say("איך מטפלים במחבת מברזל יצוק")
    assert "https://shop.example.com/he/help/cookware-care" in kb.text

    assert "מספר ההזמנה" in customer.say("מה הסטטוס של ההזמנה שלי?").text
    customer.say(f"ההזמנה שלי {order.order_id}")
    phone = f"{order.phone[:3]}-{order.phone[3:]}"
    status = customer.say(phone)
    assert order.first_name in status.text
    assert order.items[0].name_he in status.text and "בהכנה" in status.text

    handoff = customer.say("אני רוצה לדבר עם נציג אנושי")
    assert handoff.is_hebrew() and "נציג" in handoff.text
    slots = customer.slots()
    assert slots["handoff_requested"] is True and slots["language"] == "he"
