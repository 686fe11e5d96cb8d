"""The per-message slots: language follows the customer; offers expire."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.slot_tracking import ValidatePredefinedSlots
from tests.helpers.trackers import make_tracker


async def _run(domain, text, intent, **slots):
    events = await ValidatePredefinedSlots().run(CollectingDispatcher(), make_tracker(domain, text=text, intent=intent,
                                                                                  slots=slots), domain)
    return {e["name"]: e["value"] for e in events}


async def test_language_follows_the_message(domain):
    assert await _run(domain, "איפה ההזמנה שלי?", "order_status") == {"language": "he"}
    assert await _run(domain, "where is my order?", "order_status", language="he") == {"language": "en"}


async def test_an_unchanged_language_sets_nothing(domain):
    assert await _run(domain, "hello there", "greet", language="en") == {}


async def test_an_order_number_or_emoji_keeps_the_language(domain):
    assert await _run(domain, "104233", "inform", language="he") == {}
    assert await _run(domain, "dana.levi@example.com", "inform", language="he") == {}
    assert await _run(domain, "👍👍", "affirm", language="he") == {}


async def test_an_offer_survives_only_a_yes_or_no(domain):
    assert await _run(domain, "yes", "affirm", language="en", human_offered=True) == {}
    assert await _run(domain, "what are your hours", "faq", language="en", human_offered=True) == {
        "human_offered": False
    }
