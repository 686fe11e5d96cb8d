"""What ``rasa run`` counts of each turn: its outcome, fallbacks and handoffs, with bounded labels."""

from __future__ import annotations

from typing import List, Optional

from prometheus_client import REGISTRY
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SlotSet, UserUttered

from bot.metrics import count_turns


def _value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _user(intent: str, channel: Optional[str] = "web") -> UserUttered:
    return UserUttered("text", intent={"name": intent, "confidence": 0.9}, input_channel=channel)


def _answered(intent: str, action: str, channel: Optional[str] = "web") -> List[Event]:
    return [_user(intent, channel), ActionExecuted(action), BotUttered("answer"), ActionExecuted("action_listen")]


def test_each_message_of_a_save_is_one_turn_with_its_outcome() -> None:
    names = [("kesher_turns_total", {"channel": "web", "language": "he", "outcome": o})
             for o in ("answered", "fell_back", "handed_off")]
    fallbacks = ("kesher_fallbacks_total", {"channel": "web", "language": "he"})
    handoffs = ("kesher_handoffs_started_total", {"channel": "web", "reason": "consecutive_fallbacks"})
    before = [_value(n, **ls) for n, ls in [*names, fallbacks, handoffs]]
    count_turns([
        *_answered("faq", "utter_faq"),
        *_answered("nlu_fallback", "action_fallback"),
        *_answered("greet", "action_fallback"),  # understood, but no rule: the policies fell back
        _user("affirm"), ActionExecuted("action_handoff"), SlotSet("handoff_requested", True),
        SlotSet("handoff_reason", "consecutive_fallbacks"), ActionExecuted("action_listen"),
    ], "he")
    after = [_value(n, **ls) for n, ls in [*names, fallbacks, handoffs]]
    assert [a - b for a, b in zip(after, before, strict=True)] == [1, 2, 1, 2, 1]


def test_labels_take_only_known_values() -> None:
    before_other = _value("kesher_turns_total", channel="other", language="unknown", outcome="answered")
    count_turns(_answered("greet", "utter_greet", channel="made-up-by-an-api-caller"), "klingon")
    count_turns(_answered("greet", "utter_greet", channel=None), None)
    assert _value("kesher_turns_total", channel="other", language="unknown", outcome="answered") == before_other + 2
    assert REGISTRY.get_sample_value("kesher_turns_total", {"channel": "made-up-by-an-api-caller",
                                                            "language": "unknown", "outcome": "answered"}) is None


def _all_turns() -> float:
    return sum(s.value for m in REGISTRY.collect() if m.name == "kesher_turns" for s in m.samples
               if s.name == "kesher_turns_total")


def test_a_save_without_a_customer_message_counts_nothing() -> None:
    before = _all_turns()
    count_turns([SlotSet("handoff_csat", 5), ActionExecuted("action_listen")], "en")
    count_turns(_answered("greet", "utter_greet"), "en")
    assert _all_turns() == before + 1  # only the save with a message
