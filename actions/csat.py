"""Satisfaction for conversations the bot handled alone: asked when they end well, answered with one tap.

After the customer thanks the bot or says goodbye, having been answered, ``action_ask_csat``
asks a sampled share of customers (``KESHER_CSAT_BOT_SAMPLE``) to rate the chat from 1 to 5:
buttons on the widget and on Telegram, quick-reply buttons on WhatsApp (the ``csat`` template;
without it numbered options; the channel turns the tapped button's id or the number into the
option's payload, ``/rate{"rating":"4"}``). The sample is drawn from the
conversation episode (:func:`core.service_events.contact_id`), so the same episode always
gets the same answer and a retried message does not ask twice; the ``bot_csat`` slot, which a
new session clears, keeps it to once per session. A conversation a person handled is never
asked here: the agent's close asks its own question (``handoff/router.py``).

``action_csat_answer`` records the rating as a ``csat`` service event with reason ``bot``
(and ``action_ask_csat`` a ``csat_asked``) and thanks the customer. Anything else the customer
writes after the question simply goes on with the bot.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from actions.base import FALLBACK_INTENT, KesherAction, Turn
from core.service_events import EventKind, contact_id

__all__ = ["ASKED", "DONE", "ActionAskCsat", "ActionCsatAnswer", "answered_this_session", "rating_of",
           "sampled", "session_start"]

ASKED, DONE = "asked", "done"
SLOT = "bot_csat"
REASON = "bot"

# What the customer asks that the bot answers; a session with one of these (not only hello and thanks) was served.
_NOT_A_QUESTION = frozenset({"greet", "goodbye", "thank", "affirm", "deny", "rate", "human_handoff", "out_of_scope",
                             FALLBACK_INTENT})
# The bot's replies that mean the last question was not answered.
_NOT_ANSWERED = frozenset({"action_fallback", "action_out_of_scope", "action_handoff"})
_DIGIT = re.compile(r"(?<!\d)([1-5])(?!\d)")


def sampled(contact: str, share: float) -> bool:
    """Whether this episode is in the sample: a hash of it below ``share`` (the same answer every time)."""
    if share <= 0:
        return False
    point = int.from_bytes(hashlib.sha256(contact.encode()).digest()[:8], "big") / 2**64
    return point < share


def _session(tracker: Tracker) -> List[Dict[str, Any]]:
    """The events of the latest session (as far as the tracker the action got reaches back)."""
    events = list(tracker.events)
    for i in range(len(events) - 1, -1, -1):
        if events[i].get("event") == "session_started":
            return events[i:]
    return events


def session_start(tracker: Tracker) -> float:
    """When the latest session started (epoch seconds): its ``session_started`` event, else the oldest event seen."""
    session = _session(tracker)
    return float(session[0].get("timestamp") or 0) if session else 0.0


def answered_this_session(tracker: Tracker) -> bool:
    """Whether the bot answered a real question in this session, and did not fail on the one before this message."""
    session = _session(tracker)
    users = [i for i, e in enumerate(session) if e.get("event") == "user"]
    if len(users) < 2:
        return False
    asked = any(((session[i].get("parse_data") or {}).get("intent") or {}).get("name") not in _NOT_A_QUESTION
                for i in users[:-1])
    previous = session[users[-2]:users[-1]]
    failed = any(e.get("event") == "action" and e.get("name") in _NOT_ANSWERED for e in previous)
    return asked and not failed


def rating_of(turn: Turn) -> Optional[int]:
    """The rating 1–5 the customer gave: the button's ``rating`` entity, or the one digit they typed."""
    for entity in (turn.tracker.latest_message or {}).get("entities") or []:
        if entity.get("entity") == "rating":
            match = _DIGIT.fullmatch(str(entity.get("value", "")).strip())
            if match:
                return int(match.group(1))
    found = _DIGIT.findall(turn.text)
    if len(found) == 1:
        return int(found[0])
    stars = turn.text.count("⭐") or turn.text.count("★")
    return stars if 1 <= stars <= 5 else None


def _contact(turn: Turn) -> str:
    return contact_id(turn.tracker.sender_id, session_start(turn.tracker))


async def _record(turn: Turn, kind: EventKind, **values: Any) -> None:
    if turn.backends.events is None:
        return
    await turn.backends.events.record(kind, turn.tracker.sender_id, contact=_contact(turn), reason=REASON,
                                      channel=turn.tracker.get_latest_input_channel() or "",
                                      language=turn.language, **values)


class ActionAskCsat(KesherAction):
    """Asks a sampled customer to rate the chat, when a bot-only conversation ends well."""

    def name(self) -> str:
        """See :class:`KesherAction`."""
        return "action_ask_csat"

    def should_ask(self, turn: Turn) -> bool:
        """Answered, not asked yet this session, no person involved, no form open, and in the sample."""
        if turn.slot(SLOT) or turn.slot("handoff_requested") or turn.slot("handoff_csat") is not None:
            return False
        if turn.tracker.active_loop.get("name"):
            return False
        return answered_this_session(turn.tracker) and sampled(_contact(turn), turn.backends.csat_bot_sample)

    async def perform(self, turn: Turn) -> List[EventType]:
        """The question with five one-tap answers, or nothing."""
        if not self.should_ask(turn):
            return []
        turn.say("csat_bot_question")
        await _record(turn, EventKind.CSAT_ASKED)
        return [SlotSet(SLOT, ASKED)]


class ActionCsatAnswer(KesherAction):
    """The customer tapped (or typed) a rating."""

    def name(self) -> str:
        """See :class:`KesherAction`."""
        return "action_csat_answer"

    async def perform(self, turn: Turn) -> List[EventType]:
        """Records a rating to the question asked; otherwise goes on as if nothing was rated."""
        state, rating = turn.slot(SLOT), rating_of(turn)
        if state == DONE:
            turn.say("csat_bot_already")
            return []
        if state != ASKED or rating is None:
            turn.dispatcher.utter_message(response="utter_anything_else")
            return []
        await _record(turn, EventKind.CSAT, value=float(rating))
        turn.say("csat_bot_thanks")
        return [SlotSet(SLOT, DONE)]
