"""What the bot made of one customer message: answered, fell back or handed off.

One definition, read from the events a turn added, shared by the event log's ``turn`` rows
(``bot/tracker_store.py``) and the ``/metrics`` counters (``bot/metrics.py``), so the
dashboard's fallback rate and Prometheus's count the same turns.
"""

from __future__ import annotations

from typing import Iterator, Sequence, Tuple

from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered

from core.service_events import TurnOutcome

__all__ = ["FALLBACK_ACTIONS", "FALLBACK_INTENT", "REJECTED_INTENT", "customer_turns", "turn_outcome"]

FALLBACK_INTENT = "nlu_fallback"
# "That's not what I asked", or a thumbs-down on a bot answer in the widget (payload /answer_rejected).
REJECTED_INTENT = "answer_rejected"
# A turn in which one of these ran is one the bot could not answer (actions/fallback.py, the honest
# "that is outside what I can help with" of actions/out_of_scope.py, Rasa's default fallback).
FALLBACK_ACTIONS = frozenset({"action_fallback", "action_out_of_scope", "action_default_fallback"})


def customer_turns(new: Sequence[Event]) -> Iterator[Tuple[UserUttered, Sequence[Event]]]:
    """Each customer message among a save's new events, with the events that followed it up to the next one."""
    starts = [i for i, event in enumerate(new) if isinstance(event, UserUttered)]
    for n, start in enumerate(starts):
        user = new[start]
        assert isinstance(user, UserUttered)
        end = starts[n + 1] if n + 1 < len(starts) else len(new)
        yield user, new[start + 1:end]


def turn_outcome(user: UserUttered, after: Sequence[Event]) -> TurnOutcome:
    """How the bot handled one customer message.

    ``handed_off`` when the turn set ``handoff_requested``; ``fell_back`` when the NLU found nothing or a
    fallback or out-of-scope action ran; ``rejected`` when the customer said the previous answer missed;
    else ``answered``.
    """
    if any(isinstance(e, SlotSet) and e.key == "handoff_requested" and e.value is True for e in after):
        return TurnOutcome.HANDED_OFF
    if user.intent_name == REJECTED_INTENT:
        return TurnOutcome.REJECTED
    if user.intent_name == FALLBACK_INTENT or any(
            isinstance(e, ActionExecuted) and e.action_name in FALLBACK_ACTIONS for e in after):
        return TurnOutcome.FELL_BACK
    return TurnOutcome.ANSWERED
