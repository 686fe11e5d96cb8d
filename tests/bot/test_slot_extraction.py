"""The slots every message sets: language follows the customer, offers expire, inside ``rasa run``."""

from __future__ import annotations

from typing import Any, Dict, List

import pytest
from rasa.core.actions.action import action_for_name_or_text
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot.slot_extraction import install
from core.settings import PROJECT_ROOT


@pytest.fixture(scope="module")
def rasa_domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain"))


async def _extract(domain: Domain, text: str, intent: str, **slots: Any) -> Dict[str, Any]:
    install()
    events: List[Event] = [ActionExecuted("action_listen")]
    events += [SlotSet(name, value) for name, value in slots.items()]
    events.append(UserUttered(text, intent={"name": intent, "confidence": 1.0}))
    tracker = DialogueStateTracker.from_events("customer", events, slots=domain.slots)
    # Rasa's own lookup, with no action endpoint: a call to the action server would raise.
    action = action_for_name_or_text("action_extract_slots", domain, None)
    found = await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses),
                             tracker, domain)
    return {e.key: e.value for e in found if isinstance(e, SlotSet)}


async def test_language_follows_the_message(rasa_domain: Domain) -> None:
    assert (await _extract(rasa_domain, "איפה ההזמנה שלי?", "greet"))["language"] == "he"
    assert (await _extract(rasa_domain, "hello, anyone there?", "greet", language="he"))["language"] == "en"


async def test_an_unchanged_language_sets_nothing(rasa_domain: Domain) -> None:
    assert "language" not in await _extract(rasa_domain, "hello there", "greet", language="en")


async def test_an_order_number_or_emoji_keeps_the_language(rasa_domain: Domain) -> None:
    for text in ("104233", "dana.levi@example.com", "👍👍", "ok"):
        assert "language" not in await _extract(rasa_domain, text, "affirm", language="he")


async def test_an_offer_survives_only_a_yes_or_no(rasa_domain: Domain) -> None:
    for answer in ("affirm", "deny", "human_handoff"):
        assert "human_offered" not in await _extract(rasa_domain, "yes", answer, language="en", human_offered=True)
    moved_on = await _extract(rasa_domain, "what are your hours", "faq", language="en", human_offered=True)
    assert moved_on["human_offered"] is False


async def test_rasas_own_mappings_still_fill_their_slots(rasa_domain: Domain) -> None:
    found = await _extract(rasa_domain, "where is my order", "order_status", language="en", brand="Kesher Shop")
    found.pop("desk_promise")  # follows every message (tests/bot/test_desk_promise.py)
    assert found == {"order_task": "status"}


async def test_the_brand_follows_the_language(rasa_domain: Domain) -> None:
    """Responses say {brand}: the shop's name from the catalog, in the customer's language."""
    assert (await _extract(rasa_domain, "איפה ההזמנה שלי?", "greet"))["brand"] == "חנות קשר"
    assert (await _extract(rasa_domain, "hello, anyone there?", "greet", language="he",
                                 brand="חנות קשר"))["brand"] == "Kesher Shop"
    assert "brand" not in await _extract(rasa_domain, "hello", "greet", language="en", brand="Kesher Shop")
    assert (await _extract(rasa_domain, "👍", "affirm"))["brand"] == "Kesher Shop"  # no language yet: the default


async def test_a_response_says_the_brand_in_the_customers_language(rasa_domain: Domain) -> None:
    events: List[Event] = [ActionExecuted("action_listen"), SlotSet("language", "he"), SlotSet("brand", "חנות קשר")]
    tracker = DialogueStateTracker.from_events("customer", events, slots=rasa_domain.slots)
    said = await TemplatedNaturalLanguageGenerator(rasa_domain.responses).generate("utter_greet", tracker, "web")
    assert said is not None and "חנות קשר" in said["text"] and "{brand}" not in said["text"]
