""""Call me back" (#18): a small form asks the number and a time within business hours, then files it.

The request goes to the console's callback list (``handoff/callbacks.py``), not the chat queue. A phone
the customer already proved (the phone on an order verified in this conversation, or one written in
the request itself) is taken without asking. The times offered are the next windows within business
hours (holidays and their eves included, ``handoff/policy.py``), written in the customer's language; the
customer taps one, or answers with its number or its time.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.base import KesherAction, Turn, UsesBackends
from actions.handoff import HandoffReason, offer_human
from actions.orders.domain import normalize_phone
from handoff.opening import callback_time_text, opening_text

__all__ = [
    "CALLBACK_OPTIONS",
    "ActionAnswerRejected",
    "ActionAskCallbackPhone",
    "ActionAskCallbackTime",
    "ActionCallbackRequest",
    "ValidateCallbackForm",
    "callback_options",
    "desk_now",
    "parse_choice",
]

CALLBACK_OPTIONS = 4
WINDOW = timedelta(hours=2)
# The soonest a callback can be promised: an agent needs to see the request first.
LEAD = timedelta(minutes=30)
_CHOICE = "%Y-%m-%d %H:%M"
_CLOCK = re.compile(r"\b([01]?\d|2[0-3])[:.]([0-5]\d)\b")


def desk_now(turn: Turn) -> datetime:
    """Now in the desk's time zone (the backends' clock is naive local time, or aware)."""
    now = turn.now()
    return turn.backends.policy.hours.localize(now.astimezone() if now.tzinfo is None else now)


def callback_options(turn: Turn) -> List[datetime]:
    """The next windows the team can call in (their local start times)."""
    hours = turn.backends.policy.hours
    return hours.openings(desk_now(turn) + LEAD, CALLBACK_OPTIONS, WINDOW)


def parse_choice(text: str, options: List[datetime], titles: List[str]) -> Optional[datetime]:
    """The window a customer's answer picks: a button's payload, its number, its title or its start time."""
    answer = " ".join(str(text or "").split())
    for option, title in zip(options, titles, strict=True):
        if answer in (option.strftime(_CHOICE), title):
            return option
    if answer.isdigit() and 1 <= int(answer) <= len(options):
        return options[int(answer) - 1]
    clock = _CLOCK.search(answer)
    if clock:
        wanted = (int(clock.group(1)), int(clock.group(2)))
        return next((o for o in options if (o.hour, o.minute) == wanted), None)
    return None


async def _verified_phone(turn: Turn) -> Optional[str]:
    """A phone this conversation proved: the one on the order verified here, or the contact it matched."""
    contact = normalize_phone(str(turn.slot("contact") or ""))
    order_id, verified = turn.slot("order_id"), turn.slot("verified_email")
    if contact and verified:
        return contact
    if order_id and verified:
        order = await turn.backends.orders.get(str(order_id))
        if order is not None and order.email == verified:
            return normalize_phone(order.phone)
    return None


class ValidateCallbackForm(UsesBackends, FormValidationAction):
    """Checks the callback form's number and time."""

    def name(self) -> str:
        """See ``FormValidationAction``."""
        return "validate_callback_form"

    async def extract_callback_phone(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Takes a number written in the request itself, or one already verified, without asking."""
        if tracker.get_slot("callback_phone"):
            return {}
        turn = Turn(dispatcher, tracker, self.backends)
        if turn.intent == "request_callback":
            for entity in (tracker.latest_message or {}).get("entities") or []:
                phone = normalize_phone(str(entity.get("value") or "")) if entity.get("entity") == "phone" else None
                if phone:
                    return {"callback_phone": phone}
        phone = await _verified_phone(turn)
        return {"callback_phone": phone} if phone else {}

    async def validate_callback_phone(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Accepts an Israeli phone number (050-555-1234, +972 50 555 1234...)."""
        phone = normalize_phone(str(value or "")[:40])
        if phone:
            return {"callback_phone": phone}
        Turn(dispatcher, tracker, self.backends).say("callback_phone_invalid")
        return {"callback_phone": None}

    async def validate_callback_time(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Accepts one of the windows offered (by button, number, title or start time)."""
        turn = Turn(dispatcher, tracker, self.backends)
        options = callback_options(turn)
        now = desk_now(turn)
        titles = [callback_time_text(o, now, turn.language, turn.backends.texts, WINDOW) for o in options]
        chosen = parse_choice(str(value or "")[:200], options, titles)
        if chosen is not None:
            return {"callback_time": chosen.isoformat()}
        turn.say("callback_time_invalid")
        return {"callback_time": None}


class ActionAskCallbackPhone(KesherAction):
    """Asks which number to call."""

    def name(self) -> str:
        """See :class:`KesherAction`."""
        return "action_ask_callback_phone"

    async def perform(self, turn: Turn) -> List[EventType]:
        """Says ``ask_callback_phone``."""
        turn.say("ask_callback_phone")
        return []


class ActionAskCallbackTime(KesherAction):
    """Offers the next windows within business hours, as buttons."""

    def name(self) -> str:
        """See :class:`KesherAction`."""
        return "action_ask_callback_time"

    async def perform(self, turn: Turn) -> List[EventType]:
        """Says when the team can call, with one button per window."""
        hours = turn.backends.policy.hours
        now = desk_now(turn)
        options = callback_options(turn)
        texts = turn.backends.texts
        if not options:
            turn.say("callback_no_times")
            return [SlotSet("requested_slot", None)]
        holiday = hours.closed_for(now, turn.language)
        key = "ask_callback_time_holiday" if holiday else "ask_callback_time"
        text = texts.text(key, turn.language, holiday=holiday,
                          opening=opening_text(hours.next_opening(now), now, turn.language, texts))
        buttons = [{"title": callback_time_text(o, now, turn.language, texts, WINDOW),
                    "payload": o.strftime(_CHOICE)} for o in options]
        turn.dispatcher.utter_message(text=text, buttons=buttons)
        return []


class ActionCallbackRequest(KesherAction):
    """Files the request for the console's callback list and tells the customer when to expect the call."""

    def name(self) -> str:
        """See :class:`KesherAction`."""
        return "action_callback_request"

    async def perform(self, turn: Turn) -> List[EventType]:
        """Creates the request; clears the form's slots so a second request starts afresh."""
        phone, chosen = turn.slot("callback_phone"), turn.slot("callback_time")
        reset: List[EventType] = [SlotSet("callback_phone", None), SlotSet("callback_time", None)]
        if turn.backends.callbacks is None or not phone or not chosen:
            turn.say("callback_unavailable")
            return reset
        when = datetime.fromisoformat(str(chosen))
        request = await turn.backends.callbacks.create(
            turn.tracker.sender_id, turn.tracker.get_latest_input_channel() or "", turn.language, str(phone),
            when.timestamp())
        now = desk_now(turn)
        turn.say("callback_filed", phone=str(phone), reference=request.callback_id,
                 time=callback_time_text(when, now, turn.language, turn.backends.texts, WINDOW))
        return reset


class ActionAnswerRejected(KesherAction):
    """The customer said the answer missed: an apology, a request to rephrase, and the offer of a person.

    The unanswered-questions page lists the question and the answer rejected (``writers/unanswered.py``);
    the event log records the turn as ``rejected`` (``bot/turn_outcome.py``).
    """

    def name(self) -> str:
        """See :class:`KesherAction`."""
        return "action_answer_rejected"

    async def perform(self, turn: Turn) -> List[EventType]:
        """Apologises and offers a person (the offer's yes/no rules take the answer)."""
        return offer_human(turn, HandoffReason.ANSWER_REJECTED, "answer_rejected_sorry")
