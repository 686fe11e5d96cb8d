"""Every order flow, the fallback and a language switch, live in both languages.

The bot runs as in production (redis-server, action server, rasa run); the
orders database is checked after each change.
"""

from __future__ import annotations

from datetime import date
from typing import Dict, Tuple

import pytest

from actions.orders.domain import RETURN_WINDOW_DAYS
from tests.helpers.backends import fetch_order, orders_where, pick
from tests.helpers.stack import Customer

pytestmark = pytest.mark.stack

PHRASES: Dict[str, Dict[str, str]] = {
    "en": {
        "change_address": "I need to change the delivery address of my order",
        "new_address": "Rothschild Blvd 22, Tel Aviv",
        "cancel": "I want to cancel my order",
        "yes": "yes",
        "return": "I want to return something I bought",
        "reason": "it arrived damaged",
        "late": "my order is late and I'm really fed up",
        "late_calm": "my delivery was due three days ago and it still hasn't arrived",
        "no": "no thanks",
        "sorry": "sorry",  # in the bot's apology
    },
    "he": {
        "change_address": "אני צריך לשנות את כתובת המשלוח של ההזמנה",
        "new_address": "רוטשילד 22, תל אביב",
        "cancel": "אני רוצה לבטל את ההזמנה שלי",
        "yes": "כן",
        "return": "אני רוצה להחזיר מוצר שקניתי",
        "reason": "הגיע שבור",
        "late": "ההזמנה מתעכבת ונמאס לי לחכות",
        "late_calm": "ההזמנה הייתה אמורה להגיע לפני שבוע ועדיין לא הגיעה",
        "no": "לא תודה",
        "sorry": "מצטער",
    },
}
GIBBERISH: Dict[str, Tuple[str, str]] = {
    "en": ("flibber jabber wonk", "zorp blarg quux"),
    "he": ("פלורפ זינגל בזבוז", "קשקוש טרלול בלה"),
}


def _verify(customer: Customer, order) -> str:
    customer.say(order.order_id)
    return customer.say(order.email).text


def _check_language(reply, language: str) -> None:
    assert reply.is_hebrew() if language == "he" else reply.is_english(), reply.text


@pytest.mark.parametrize("language", ["en", "he"])
def test_change_address_before_shipping(stack, stack_settings, stack_orders, language):
    order = pick(orders_where(stack_orders, status="processing", language=language), seed=11)
    customer = Customer(stack_settings)
    customer.say(PHRASES[language]["change_address"])
    asked = _verify(customer, order)
    assert order.order_id in asked  # "What's the new delivery address for order …?"
    done = customer.say(PHRASES[language]["new_address"])
    _check_language(done, language)
    assert PHRASES[language]["new_address"] in done.text
    assert fetch_order(stack_orders, order.order_id).shipping_address == PHRASES[language]["new_address"]


@pytest.mark.parametrize("language", ["en", "he"])
def test_cancel_after_confirmation(stack, stack_settings, stack_orders, language):
    order = pick(orders_where(stack_orders, status="processing", language=language), seed=23)
    customer = Customer(stack_settings)
    customer.say(PHRASES[language]["cancel"])
    confirm = _verify(customer, order)
    assert order.order_id in confirm and str(order.total).split(".")[0] in confirm.replace(",", "")
    assert fetch_order(stack_orders, order.order_id).status == "processing"  # nothing happens before the yes
    done = customer.say(PHRASES[language]["yes"])
    _check_language(done, language)
    assert fetch_order(stack_orders, order.order_id).status == "cancelled"


@pytest.mark.parametrize("language", ["en", "he"])
def test_return_within_30_days(stack, stack_settings, stack_orders, language):
    recent = [o for o in orders_where(stack_orders, status="delivered", language=language)
              if o.delivered_at and (date.today() - o.delivered_at.date()).days <= RETURN_WINDOW_DAYS - 2]
    order = pick(recent, seed=5)
    customer = Customer(stack_settings)
    customer.say(PHRASES[language]["return"])
    _verify(customer, order)
    done = customer.say(PHRASES[language]["reason"])
    _check_language(done, language)
    assert f"R{order.order_id}-" in done.text


@pytest.mark.parametrize("language", ["en", "he"])
def test_a_frustrated_late_order_complaint_goes_to_a_person(stack, stack_settings, stack_orders, language):
    order = pick(orders_where(stack_orders, status="delayed", language=language))
    assert order.tracking_number  # a delayed order is on its way
    customer = Customer(stack_settings)
    empathy = customer.say(PHRASES[language]["late"])  # "... fed up" / "נמאס לי"
    _check_language(empathy, language)
    assert PHRASES[language]["sorry"] in empathy.text.lower()
    status = _verify(customer, order)
    assert order.tracking_number in status
    # Frustration is a handoff trigger (handoff/policy.yml): no offer, straight to the queue.
    slots = customer.slots()
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "complaint_frustration"
    assert slots["handoff_reference"] in status
    # Rasa's REST channel cannot carry a live chat, so the customer is told where to find one.
    assert ("WhatsApp" in status) if language == "en" else ("בוואטסאפ" in status)


@pytest.mark.parametrize("language", ["en", "he"])
def test_a_calm_late_order_complaint_is_offered_a_person(stack, stack_settings, stack_orders, language):
    order = pick(orders_where(stack_orders, status="delayed", language=language), seed=5)
    assert order.tracking_number
    customer = Customer(stack_settings)
    customer.say(PHRASES[language]["late_calm"])
    status = _verify(customer, order)
    assert order.tracking_number in status
    assert customer.slots()["human_offered"] is True
    handoff = customer.say(PHRASES[language]["yes"])
    _check_language(handoff, language)
    slots = customer.slots()
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "complaint"


@pytest.mark.parametrize("language", ["en", "he"])
def test_two_fallbacks_offer_a_person_and_no_is_respected(stack, stack_settings, language):
    customer = Customer(stack_settings)
    first = customer.say(GIBBERISH[language][0])
    _check_language(first, language)
    second = customer.say(GIBBERISH[language][1])
    assert len(second.buttons) == 2
    declined = customer.say(PHRASES[language]["no"])
    _check_language(declined, language)
    slots = customer.slots()
    assert slots["human_offered"] is False and not slots["handoff_requested"]


def test_switching_language_mid_conversation(stack, stack_settings, stack_orders):
    order = pick(orders_where(stack_orders, status="shipped", language="he"), seed=3)
    assert order.tracking_number
    customer = Customer(stack_settings)
    assert customer.say("שלום").is_hebrew()
    assert customer.say("how long does shipping take?").is_english()
    assert customer.say("ואיפה ההזמנה שלי?").is_hebrew()
    # An order number and an e-mail in Latin letters keep the conversation in Hebrew.
    assert customer.say(order.order_id).is_hebrew()
    status = customer.say(order.email)
    assert status.is_hebrew() and order.tracking_number in status.text
