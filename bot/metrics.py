"""What ``rasa run`` counts of each turn for Prometheus, where Rasa saves it (``bot/tracker_store.py``).

A turn is one customer message and what the bot did about it. Its outcome is read from
the events the turn added: ``handed_off`` when it set ``handoff_requested`` (``action_handoff``
ran), ``fell_back`` when the NLU found nothing (``nlu_fallback``) or the policies chose
``action_fallback``, else ``answered`` — the outcomes of the event log's ``turn`` events
(:class:`core.service_events.TurnOutcome`). Labels take only known values, so a caller of
Rasa's HTTP API cannot grow the series without bound. Every metric is listed in
``docs/operations.md``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from prometheus_client import Counter
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

from core.service_events import TurnOutcome

__all__ = ["CHANNELS", "FALLBACKS", "HANDOFFS_STARTED", "TURNS", "count_turns"]

TURNS = Counter("kesher_turns", "Customer messages the bot handled, by channel, language and outcome "
                "(answered, fell_back, handed_off).", ["channel", "language", "outcome"])
FALLBACKS = Counter("kesher_fallbacks", "Turns where the bot did not understand (NLU fallback or no rule), by "
                    "channel and language.", ["channel", "language"])
HANDOFFS_STARTED = Counter("kesher_handoffs_started", "Handoffs to a person started, by channel and reason "
                           "(the policy's triggers, an accepted offer, or bot_failed).", ["channel", "reason"])

CHANNELS = frozenset({"web", "whatsapp", "telegram", "kesher_callback", "kesher_rest", "rest", "callback", "cmdline"})
_LANGUAGES = frozenset({"he", "en"})
_FALLBACK_ACTIONS = frozenset({"action_fallback", "action_default_fallback"})
_REASONS = frozenset({"explicit_request", "consecutive_fallbacks", "complaint_frustration", "repeated_out_of_scope",
                      "verification_failed", "kb_no_answer", "complaint", "order_not_found", "bot_failed"})


def _known(value: Any, allowed: frozenset[str], other: str) -> str:
    return value if isinstance(value, str) and value in allowed else other


def count_turns(new_events: Sequence[Event], language: Optional[str]) -> None:
    """Counts each customer message among a save's new events, with the outcome of what followed it.

    Args:
        new_events: The events a save appends (one turn, usually).
        language: The ``language`` slot after them.
    """
    lang = _known(language, _LANGUAGES, "unknown")
    starts = [i for i, event in enumerate(new_events) if isinstance(event, UserUttered)]
    for n, start in enumerate(starts):
        user = new_events[start]
        assert isinstance(user, UserUttered)
        end = starts[n + 1] if n + 1 < len(starts) else len(new_events)
        after = new_events[start + 1:end]
        channel = _known(user.input_channel, CHANNELS, "other")
        handed_off = any(isinstance(e, SlotSet) and e.key == "handoff_requested" and e.value for e in after)
        fell_back = user.intent_name == "nlu_fallback" or any(
            isinstance(e, ActionExecuted) and e.action_name in _FALLBACK_ACTIONS for e in after)
        if handed_off:
            outcome = TurnOutcome.HANDED_OFF
            reason = next((e.value for e in after if isinstance(e, SlotSet) and e.key == "handoff_reason"), None)
            HANDOFFS_STARTED.labels(channel, _known(reason, _REASONS, "other")).inc()
        elif fell_back:
            outcome = TurnOutcome.FELL_BACK
        else:
            outcome = TurnOutcome.ANSWERED
        if fell_back:
            FALLBACKS.labels(channel, lang).inc()
        TURNS.labels(channel, lang, outcome.value).inc()
