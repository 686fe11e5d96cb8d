"""Asking for a human records the request and its reason in the tracker."""

from __future__ import annotations

import re

from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionDeclineHuman, ActionHandoff
from tests.helpers.backends import NOW
from tests.helpers.trackers import make_tracker


async def _handoff(backends, domain, intent, slots):
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff(backends).run(dispatcher, make_tracker(domain, text="x", intent=intent, slots=slots),
                                              domain)
    return dispatcher.messages[0]["text"], {e["name"]: e["value"] for e in events}


async def test_an_explicit_request_is_recorded_with_a_reference(backends, domain):
    text, slots = await _handoff(backends, domain, "human_handoff", {"language": "en"})
    assert slots["handoff_requested"] is True
    assert slots["handoff_reason"] == "explicit_request"
    assert slots["handoff_requested_at"] == NOW.isoformat(timespec="seconds")
    assert re.fullmatch(r"K-[0-9A-F]{6}", slots["handoff_reference"])
    assert slots["handoff_reference"] in text


async def test_accepting_an_offer_keeps_the_offers_reason(backends, domain):
    _, slots = await _handoff(backends, domain, "affirm",
                              {"human_offered": True, "human_offer_reason": "complaint"})
    assert slots["handoff_reason"] == "complaint"
    assert slots["human_offered"] is False


async def test_the_reply_is_in_hebrew_for_a_hebrew_customer(backends, domain):
    text, _ = await _handoff(backends, domain, "human_handoff", {"language": "he"})
    assert "נציג" in text


async def test_declining_closes_the_offer(backends, domain):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text="no", intent="deny", slots={"human_offered": True})
    events = await ActionDeclineHuman(backends).run(dispatcher, tracker, domain)
    assert {e["name"]: e["value"] for e in events} == {"human_offered": False, "human_offer_reason": None}
    assert "anything else" in dispatcher.messages[0]["text"]
