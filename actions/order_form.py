"""The order form: which order, is it really yours, and what the task still needs.

One form (``order_form``) serves every order task: status, late-order
complaint, change of address, cancellation and return. It always asks for the
order number and then for the e-mail or phone on the order; only once both
match does it ask what the task needs (a new address, a confirmation, a return
reason), and only if the order allows the task. An order number that does not
exist and a contact that does not match get the same answer, so nobody can
tell which numbers are orders. Wrong answers are counted; the third ends the
form, and :class:`actions.order_task.ActionOrderTask` offers a human or hands
over.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from actions.base import KesherAction, Turn, UsesBackends
from actions.orders.domain import (
    Order,
    ReturnCheck,
    contact_matches,
    normalize_email,
    normalize_order_id,
    normalize_phone,
)

__all__ = [
    "MAX_ATTEMPTS",
    "TASK_SLOTS",
    "ActionAskCancelConfirmed",
    "ActionAskContact",
    "ActionAskNewAddress",
    "ActionAskOrderId",
    "ActionAskReturnReason",
    "ValidateOrderForm",
    "task_allowed",
    "verified_order_matches",
]

MAX_ATTEMPTS = 3
MAX_FIELD_CHARS = 300
# A cancellation cannot be undone: a "yes" must be clear (a button, or a
# confident affirm without a negation) or the question is asked again.
CLEAR_YES_CONFIDENCE = 0.8
_NEGATION = re.compile(r"\b(?:no|not|don'?t|never|stop|wait)\b|(?:^|\s)(?:לא|אל|אין|רגע|עזוב)(?:\s|$|[?!.,])", re.I)
# The extra slot each task asks for once the customer is verified.
TASK_SLOTS = {"change_address": "new_address", "cancel": "cancel_confirmed", "return": "return_reason"}


def task_allowed(task: Optional[str], order: Order, turn: Turn) -> bool:
    """Whether the order's state lets the task go on (its extra slot is asked)."""
    if task == "change_address":
        return order.can_change_address()
    if task == "cancel":
        return order.can_cancel()
    if task == "return":
        return order.check_return(turn.today()) is ReturnCheck.OK
    return True


def _failures(tracker: Tracker, slot: str) -> int:
    return int(tracker.get_slot(slot) or 0)


def _looks_like_contact(text: str) -> bool:
    return normalize_email(text) is not None or normalize_phone(text) is not None


def _order_slots(order: Order, tracker: Tracker, turn: Turn) -> Dict[str, Any]:
    """What the form learns about an order once the customer is verified for it (never before)."""
    allowed = task_allowed(tracker.get_slot("order_task"), order, turn)
    return {"order_status": order.status, "order_task_allowed": allowed}


def verified_order_matches(order: Optional[Order], contact: Any) -> bool:
    """Whether ``contact`` is the e-mail or phone of ``order`` (False when there is no such order).

    The order actions call this again before reading or changing an order, whatever the
    slots say: a tracker's slots are only what the caller sent.
    """
    return order is not None and bool(contact) and contact_matches(order, str(contact))


class ValidateOrderForm(UsesBackends, FormValidationAction):
    """Validates the order form's answers against the orders store."""

    def name(self) -> str:
        """See ``FormValidationAction``."""
        return "validate_order_form"

    async def required_slots(
        self,
        domain_slots: List[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[str]:
        """Order number and contact; then the task's own slot; nothing after 3 failures."""
        if (
            _failures(tracker, "order_id_failures") >= MAX_ATTEMPTS
            or _failures(tracker, "verification_failures") >= MAX_ATTEMPTS
        ):
            return []
        slots = ["order_id", "contact"]
        verified = tracker.get_slot("order_id") and tracker.get_slot("contact")
        extra = TASK_SLOTS.get(tracker.get_slot("order_task") or "")
        if verified and extra and tracker.get_slot("order_task_allowed"):
            slots.append(extra)
        return slots

    async def _turn(self, dispatcher: CollectingDispatcher, tracker: Tracker) -> Turn:
        return Turn(dispatcher, tracker, self.backends)

    async def validate_order_id(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Accepts any well-formed order number; counts anything else.

        Whether such an order exists is not said here: "no such order" and "not your
        order" get the same answer once the contact is checked (:meth:`validate_contact`),
        so nobody can learn which numbers are orders.
        """
        turn = await self._turn(dispatcher, tracker)
        text = str(value or "")[:MAX_FIELD_CHARS]
        order_id = normalize_order_id(text)
        if order_id is None:
            failures = _failures(tracker, "order_id_failures") + 1
            if failures < MAX_ATTEMPTS:
                turn.say("order_id_invalid")
            return {"order_id": None, "order_id_failures": failures}

        result: Dict[str, Any] = {"order_id": order_id, "order_id_failures": 0}
        order = await turn.backends.orders.get(order_id)
        verified_email = tracker.get_slot("verified_email")
        contact = tracker.get_slot("contact")
        if order is not None and verified_email and verified_email == order.email:
            # Verified earlier in this conversation for the same customer.
            result.update(contact=verified_email, **_order_slots(order, tracker, turn))
        elif contact and order is not None and contact_matches(order, str(contact)):
            result.update(_order_slots(order, tracker, turn))
        elif contact:
            result["contact"] = None  # given for another order: ask again
        return result

    async def validate_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Accepts the e-mail or phone on the order; counts anything else, with one answer for both.

        An order number that does not exist and a contact that is not the order's get the
        same words (``order_not_matched``) and count the same.
        """
        turn = await self._turn(dispatcher, tracker)
        order_id = tracker.get_slot("order_id")
        if not order_id:
            return {"contact": None}
        supplied = str(value or "")[:MAX_FIELD_CHARS]
        if normalize_order_id(supplied) == order_id and not _looks_like_contact(supplied):
            return {"contact": None}  # the customer just gave (another) order number, not a contact
        order = await turn.backends.orders.get(order_id)
        if order is not None and contact_matches(order, supplied):
            if order.email != tracker.get_slot("verified_email"):
                turn.say("contact_verified", first_name=order.first_name)
                await _continue_earlier_conversation(turn, order.email)
            return {"contact": supplied, "verified_email": order.email, "verification_failures": 0,
                    **_order_slots(order, tracker, turn)}
        failures = _failures(tracker, "verification_failures") + 1
        if failures < MAX_ATTEMPTS:
            turn.say("order_not_matched", order_id=order_id, remaining=MAX_ATTEMPTS - failures)
        return {"contact": None, "verification_failures": failures}

    async def validate_new_address(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Accepts an address with a street, a house number and a place."""
        address = " ".join(str(value or "").split())
        has_letters = any(ch.isalpha() for ch in address)
        has_digits = any(ch.isdigit() for ch in address)
        if 8 <= len(address) <= 200 and has_letters and has_digits:
            return {"new_address": address}
        turn = await self._turn(dispatcher, tracker)
        turn.say("address_invalid")
        return {"new_address": None}

    def validate_cancel_confirmed(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Takes a no at once; a yes only when it is unmistakable (see ``CLEAR_YES_CONFIDENCE``)."""
        if value is not True:
            return {"cancel_confirmed": value}
        latest = tracker.latest_message or {}
        confidence = float((latest.get("intent") or {}).get("confidence") or 0.0)
        if confidence >= CLEAR_YES_CONFIDENCE and not _NEGATION.search(latest.get("text") or ""):
            return {"cancel_confirmed": True}
        return {"cancel_confirmed": None}  # the form asks again, with yes/no buttons

    def validate_return_reason(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Keeps the customer's reason, trimmed to a sensible length."""
        reason = " ".join(str(value or "").split())[:MAX_FIELD_CHARS]
        return {"return_reason": reason or None}


class _AskForSlot(KesherAction, ABC):
    """Asks the form's question for one slot (Rasa runs ``action_ask_<slot>``)."""

    @property
    @abstractmethod
    def slot_name(self) -> str:
        """The slot this action asks for."""

    def name(self) -> str:
        """See :class:`KesherAction`."""
        return f"action_ask_{self.slot_name}"

    async def perform(self, turn: Turn) -> List[EventType]:
        """Says ``ask_<slot>`` from the text catalog (data/texts)."""
        turn.say(f"ask_{self.slot_name}", order_id=turn.slot("order_id") or "")
        return []


class ActionAskOrderId(_AskForSlot):
    """Asks for the order number."""

    slot_name = "order_id"


class ActionAskContact(_AskForSlot):
    """Asks for the e-mail or phone on the order."""

    slot_name = "contact"


class ActionAskNewAddress(_AskForSlot):
    """Asks for the new delivery address."""

    slot_name = "new_address"


class ActionAskReturnReason(_AskForSlot):
    """Asks why the order is being returned."""

    slot_name = "return_reason"


class ActionAskCancelConfirmed(KesherAction):
    """Asks to confirm a cancellation, naming the order, its items and its total."""

    def name(self) -> str:
        """See :class:`KesherAction`."""
        return "action_ask_cancel_confirmed"

    async def perform(self, turn: Turn) -> List[EventType]:
        """Shows what would be cancelled, with yes/no buttons (only to the order's verified customer)."""
        order_id = turn.slot("order_id")
        order = await turn.backends.orders.get(order_id) if order_id else None
        if not verified_order_matches(order, turn.slot("contact")) or order is None:
            turn.say("verification_failed")  # the form verified it a moment ago: a forged call
            return []
        turn.say(
            "confirm_cancel",
            order_id=order.order_id,
            items=order.item_summary(turn.language),
            total=turn.money(order.total),
        )
        return []


async def _continue_earlier_conversation(turn: Turn, email: str) -> None:
    """Joins this chat to the customer's conversation on another channel, if they have one."""
    desk = turn.backends.handoff
    channel = turn.tracker.get_latest_input_channel() or ""
    if desk is None or channel not in turn.backends.policy.live_channels:
        return  # e.g. the REST channel: nothing can follow the customer there
    text = await desk.customer_verified(turn.tracker.sender_id, email, channel, turn.language)
    if text:
        turn.dispatcher.utter_message(text=text)
