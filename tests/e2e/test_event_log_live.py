"""Turns through the real stack land in the event log: `rasa run` records them, the handoff service moves them.

A customer writes over the REST channel; each message's ``turn`` row says what the NLU
found, how the bot answered (answered, fell back, handed off), the FAQ answered, the
channel, the language and the customer's session, and keeps the words (masked) only
where the bot could not answer.
"""

from __future__ import annotations

from typing import Any, Dict, List

import pytest

from core.service_events import pseudonym
from tests.helpers.event_rows import rows_of
from tests.helpers.stack import Customer
from tests.helpers.waiting import until_sync

pytestmark = pytest.mark.stack


def test_turns_through_the_rest_channel_are_in_the_event_log(stack, stack_settings):
    customer = Customer(stack_settings)
    assert customer.say("Hello!").is_english()
    assert "₪29.90" in customer.say("how much do you charge for delivery?").text
    customer.say("flibber jabber wonk")
    customer.say("I'd like to talk to a real person please")
    assert customer.slots()["handoff_requested"] is True

    def four() -> List[Dict[str, Any]]:
        found = rows_of(stack_settings, customer.cid, ["turn"])
        return found if len(found) == 4 else []

    turns = until_sync(four, what="four turn rows", timeout=60)
    greet, faq, unclear, handoff = turns
    assert [t["outcome"] for t in turns] == ["answered", "answered", "fell_back", "handed_off"]
    assert greet["intent"] == "greet" and greet["confidence"] > 0.5 and greet["text"] == ""
    assert faq["intent"] == "faq" and faq["topic"] == "faq/shipping_cost"
    assert unclear["text"] == "flibber jabber wonk"  # kept only where the bot could not answer
    assert handoff["intent"] == "human_handoff" and "real person" in handoff["text"]
    contacts = {t["contact"] for t in turns}
    assert len(contacts) == 1 and contacts.pop().startswith(pseudonym(stack_settings.events_secret, customer.cid) + "@")
    assert {t["channel"] for t in turns} == {"kesher_rest"}
    assert {t["language"] for t in turns} == {"en"}
    assert all(t["value"] is not None and t["value"] >= 0 for t in turns)  # the turn's milliseconds
