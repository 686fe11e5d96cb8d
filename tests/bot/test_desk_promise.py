"""What the bot promises about a person follows the business hours and the Israeli calendar (#18 point 6).

``rasa run``'s slot extraction sets ``desk_promise`` after each message; ``utter_iamabot`` and
``utter_capabilities`` say it, so the bot never promises a person "whenever you like" at 3 a.m. or on
Yom Kippur.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, Iterator, List
from zoneinfo import ZoneInfo

import pytest
from rasa.core.actions.action import action_for_name_or_text
from rasa.core.channels.channel import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import slot_extraction
from core.bidi import strip_controls
from core.settings import PROJECT_ROOT

IL = ZoneInfo("Asia/Jerusalem")


@pytest.fixture(scope="module")
def rasa_domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain"))


@pytest.fixture()
def clock() -> Iterator[List[float]]:
    now = [0.0]
    original = slot_extraction.clock
    slot_extraction.clock = lambda: now[0]
    yield now
    slot_extraction.clock = original


async def _turn(domain: Domain, text: str, language: str) -> Dict[str, Any]:
    """Runs the slot extraction, then renders utter_iamabot with the slots it set."""
    slot_extraction.install()
    events: List[Event] = [ActionExecuted("action_listen"), SlotSet("language", language),
                           UserUttered(text, intent={"name": "bot_challenge", "confidence": 1.0})]
    tracker = DialogueStateTracker.from_events("customer", events, slots=domain.slots)
    action = action_for_name_or_text("action_extract_slots", domain, None)
    found = await action.run(CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses),
                             tracker, domain)
    for event in found:
        tracker.update(event)
    nlg = TemplatedNaturalLanguageGenerator(domain.responses)
    reply = await nlg.generate("utter_iamabot", tracker, "web")
    return {"slots": {e.key: e.value for e in found if isinstance(e, SlotSet)}, "reply": reply["text"]}


async def test_open_hours_promise_a_person_now(rasa_domain: Domain, clock: List[float]) -> None:
    clock[0] = datetime(2026, 11, 30, 10, 0, tzinfo=IL).timestamp()  # a Monday morning
    turn = await _turn(rasa_domain, "are you a bot?", "en")
    assert turn["reply"].endswith("A member of our team is available now: just say \"talk to a person\".")


async def test_after_hours_the_bot_says_when_the_team_is_back(rasa_domain: Domain, clock: List[float]) -> None:
    clock[0] = datetime(2026, 11, 27, 18, 0, tzinfo=IL).timestamp()  # Friday evening
    turn = await _turn(rasa_domain, "אתה בוט?", "he")
    assert "הצוות שלנו לא זמין כרגע ויחזור ביום ראשון בשעה 08:00" in strip_controls(turn["reply"])
    assert "בכל פעם שתרצו" not in turn["reply"] and "Sunday" not in turn["reply"]


async def test_on_a_holiday_the_holiday_is_named(rasa_domain: Domain, clock: List[float]) -> None:
    clock[0] = datetime(2026, 9, 21, 11, 0, tzinfo=IL).timestamp()  # Yom Kippur
    turn = await _turn(rasa_domain, "are you a real person?", "en")
    assert "Our team is closed for Yom Kippur and back on Tuesday at 08:00" in turn["reply"]
    assert "whenever" not in turn["reply"]
