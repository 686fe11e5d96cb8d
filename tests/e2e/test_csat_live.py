"""A bot-only conversation's rating on the running stack: asked after thanks, one tap, an event on the stream.

The sample (``KESHER_CSAT_BOT_SAMPLE``, 0.3 here as by default) is drawn from the conversation
episode, which starts when the customer's first message opens a session; so the test reads
each new customer's session start, computes the same draw, and checks both kinds of customer:
one outside the sample is never asked, one inside it is asked, taps a rating, and the rating
is on the service-events stream.
"""

from __future__ import annotations

from typing import List, Optional

import pytest
import redis

from actions.csat import sampled
from core.redis_keys import RedisKeys
from core.service_events import ServiceEvent, contact_id
from core.settings import Settings
from tests.helpers.stack import Customer, Reply
from tests.helpers.texts import catalog

pytestmark = pytest.mark.stack

RATINGS = [f'/rate{{"rating":"{n}"}}' for n in range(1, 6)]
MOST_CUSTOMERS = 40  # at a share of 0.3, 40 customers all outside the sample: odds below 1 in a million


def _contact(customer: Customer) -> str:
    started = [e["timestamp"] for e in customer.tracker()["events"] if e["event"] == "session_started"]
    return contact_id(customer.cid, started[-1])


def _rating_buttons(reply: Reply) -> List[str]:
    return [b["payload"] for m in reply.messages for b in m.get("buttons", []) if b["payload"] in RATINGS]


def _events(settings: Settings, cid: str) -> List[ServiceEvent]:
    client = redis.Redis(port=settings.redis_port, decode_responses=True)
    try:
        entries = client.xrange(RedisKeys().service_events())
    finally:
        client.close()
    return [e for e in (ServiceEvent.from_fields(f) for _, f in entries) if e.conversation == cid]


def test_a_sampled_customer_rates_the_bot_in_one_tap_and_the_rating_is_recorded(stack, stack_settings) -> None:
    share = stack_settings.csat_bot_sample
    assert 0 < share < 1
    chosen: Optional[Customer] = None
    outside: Optional[Customer] = None
    for _ in range(MOST_CUSTOMERS):
        customer = Customer(stack_settings)
        customer.say("do you accept paypal?")
        if sampled(_contact(customer), share):
            chosen = chosen or customer
        else:
            outside = outside or customer
        if chosen and outside:
            break
    assert chosen is not None and outside is not None

    # Outside the sample: thanks gets "you're welcome", no question, nothing recorded.
    reply = outside.say("thanks, that's all I needed")
    assert reply.is_english() and _rating_buttons(reply) == []
    assert [e.kind for e in _events(stack_settings, outside.cid) if e.kind.startswith("csat")] == []

    # In the sample: the question with five one-tap answers, then the tap, then thanks.
    reply = chosen.say("thanks, that's all I needed")
    assert catalog().text("csat_bot_question", "en") in reply.text
    assert _rating_buttons(reply) == RATINGS
    thanked = chosen.say(RATINGS[3])  # what the widget sends when the fourth button is tapped
    assert thanked.text == catalog().text("csat_bot_thanks", "en")
    # Saying goodbye now does not ask again.
    bye = chosen.say("bye!")
    assert _rating_buttons(bye) == []

    csat = [e for e in _events(stack_settings, chosen.cid) if e.kind in ("csat_asked", "csat")]
    assert [(e.kind, e.reason, e.value) for e in csat] == [("csat_asked", "bot", None), ("csat", "bot", 4.0)]
    assert all(e.channel == "kesher_rest" and e.language == "en" and e.contact == _contact(chosen) for e in csat)
    assert chosen.slots()["bot_csat"] == "done"


def test_a_hebrew_customer_is_asked_in_hebrew_and_may_type_the_rating(stack, stack_settings) -> None:
    for _ in range(MOST_CUSTOMERS):
        customer = Customer(stack_settings)
        customer.say("אפשר לשלם בפייפאל?")
        if sampled(_contact(customer), stack_settings.csat_bot_sample):
            break
    else:
        pytest.fail("no customer in the sample")
    reply = customer.say("תודה רבה, זה מה שהייתי צריך")
    assert reply.is_hebrew() and catalog().text("csat_bot_question", "he") in reply.text
    assert _rating_buttons(reply) == RATINGS
    thanked = customer.say("5 כוכבים")
    assert thanked.text == catalog().text("csat_bot_thanks", "he")
    [rated] = [e for e in _events(stack_settings, customer.cid) if e.kind == "csat"]
    assert (rated.value, rated.reason, rated.language) == (5.0, "bot", "he")
