"""A bot-only conversation's rating on the running stack: asked after thanks, one tap, an event on the stream.

The sample (``KESHER_CSAT_BOT_SAMPLE``, 0.3 here as by default) is drawn from the conversation
episode, which starts when the customer's first message opens a session; so the test reads
each new customer's session start, computes the same draw, and checks both kinds of customer:
one outside the sample is never asked, one inside it is asked, taps a rating, and the rating
reaches the event log database the dashboard reads.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pytest

from actions.csat import sampled
from core.service_events import contact_id, pseudonym
from core.settings import Settings
from tests.helpers.event_rows import rows_of
from tests.helpers.stack import Customer, Reply
from tests.helpers.texts import catalog
from tests.helpers.waiting import until_sync

pytestmark = pytest.mark.stack

RATINGS = [f'/rate{{"rating":"{n}"}}' for n in range(1, 6)]
MOST_CUSTOMERS = 40  # at a share of 0.3, 40 customers all outside the sample: odds below 1 in a million


def _contact(customer: Customer) -> str:
    started = [e["timestamp"] for e in customer.tracker()["events"] if e["event"] == "session_started"]
    return contact_id(customer.cid, started[-1])


def _rating_buttons(reply: Reply) -> List[str]:
    return [b["payload"] for m in reply.messages for b in m.get("buttons", []) if b["payload"] in RATINGS]


def _stored(settings: Settings, customer: Customer, turns: int) -> List[Dict[str, Any]]:
    """The customer's CSAT rows, once the mover has stored all ``turns`` of their turns (and so what came before)."""

    def caught_up() -> Optional[Tuple[List[Dict[str, Any]]]]:
        rows = rows_of(settings, customer.cid, ["turn", "csat_asked", "csat"])
        if sum(r["kind"] == "turn" for r in rows) < turns:
            return None
        return ([r for r in rows if r["kind"] != "turn"],)  # a tuple: an empty list is an answer too

    stored = until_sync(caught_up, what=f"{turns} turns in the event log", timeout=60)
    assert stored is not None
    return stored[0]


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
    assert _stored(stack_settings, outside, turns=2) == []

    # In the sample: the question with five one-tap answers, then the tap, then thanks.
    reply = chosen.say("thanks, that's all I needed")
    assert catalog().text("csat_bot_question", "en") in reply.text
    assert _rating_buttons(reply) == RATINGS
    thanked = chosen.say(RATINGS[3])  # what the widget sends when the fourth button is tapped
    assert thanked.text == catalog().text("csat_bot_thanks", "en")
    # Saying goodbye now does not ask again.
    bye = chosen.say("bye!")
    assert _rating_buttons(bye) == []

    csat = _stored(stack_settings, chosen, turns=4)
    assert [(e["kind"], e["reason"], e["value"]) for e in csat] == [("csat_asked", "bot", None), ("csat", "bot", 4.0)]
    conversation, _, start = _contact(chosen).rpartition("@")
    alias = f"{pseudonym(stack_settings.events_secret, conversation)}@{start}"
    assert all(e["channel"] == "kesher_rest" and e["language"] == "en" and e["contact"] == alias for e in csat)
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
    [rated] = [e for e in _stored(stack_settings, customer, turns=3) if e["kind"] == "csat"]
    assert (rated["value"], rated["reason"], rated["language"]) == (5.0, "bot", "he")
