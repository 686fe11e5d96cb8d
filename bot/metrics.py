"""What ``rasa run`` counts of each turn for Prometheus, where Rasa saves it (``bot/tracker_store.py``).

A turn is one customer message and what the bot did about it. Its outcome is read from
the events the turn added: ``bot/turn_outcome.py`` decides it (answered, fell back — which includes an
out-of-scope answer — or handed off), as for the outcomes of the event log's ``turn`` events
(:class:`core.service_events.TurnOutcome`). Labels take only known values, so a caller of
Rasa's HTTP API cannot grow the series without bound. Every metric is listed in
``docs/operations.md``.
"""

from __future__ import annotations

from typing import Any, Optional, Sequence

from prometheus_client import Counter
from rasa.shared.core.events import Event, SlotSet

from bot.turn_outcome import customer_turns, turn_outcome
from core.service_events import TurnOutcome

__all__ = ["CHANNELS", "FALLBACKS", "HANDOFFS_STARTED", "TURNS", "count_turns"]

TURNS = Counter("kesher_turns", "Customer messages the bot handled, by channel, language and outcome "
                "(answered, fell_back, handed_off, rejected).", ["channel", "language", "outcome"])
FALLBACKS = Counter("kesher_fallbacks", "Turns the bot could not answer (NLU fallback, fallback or out-of-scope "
                    "action), by channel and language.", ["channel", "language"])
HANDOFFS_STARTED = Counter("kesher_handoffs_started", "Handoffs to a person started, by channel and reason "
                           "(the policy's triggers, an accepted offer, or bot_failed).", ["channel", "reason"])

CHANNELS = frozenset({"web", "whatsapp", "telegram", "kesher_callback", "kesher_rest", "rest", "callback", "cmdline"})
_LANGUAGES = frozenset({"he", "en"})
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
    for user, after in customer_turns(new_events):
        channel = _known(user.input_channel, CHANNELS, "other")
        outcome = turn_outcome(user, after)
        if outcome is TurnOutcome.HANDED_OFF:
            reason = next((e.value for e in after if isinstance(e, SlotSet) and e.key == "handoff_reason"), None)
            HANDOFFS_STARTED.labels(channel, _known(reason, _REASONS, "other")).inc()
        elif outcome is TurnOutcome.FELL_BACK:
            FALLBACKS.labels(channel, lang).inc()
        TURNS.labels(channel, lang, outcome.value).inc()
