"""Doing what the customer asked once the order form is complete.

The form has found the order and verified the customer (or given up after
three attempts). The order is read again here, because its status may have
changed while the customer was typing, and the store's rule is checked once
more inside the database write. The contact is checked against the order again
too, whatever the slots say: the tracker is only what the caller sent, and an
order is neither read nor changed for a contact that is not its own. A number
with no order and a contact that does not match get the same answer.
"""

from __future__ import annotations

import logging
import re
from typing import Awaitable, Callable, Dict, List, Optional

from rasa_sdk.events import EventType, SlotSet

from actions.base import KesherAction, Turn
from actions.handoff import HandoffReason, offer_human, request_handoff
from actions.order_form import MAX_ATTEMPTS, verified_order_matches
from actions.orders.domain import Order, ReturnCheck
from actions.orders.repository import OrderStateConflict, ReturnNotAllowed
from handoff.policy import Trigger

__all__ = ["FORM_SLOTS", "ActionOrderTask", "confirm_by_mail"]

log = logging.getLogger(__name__)

# Slots that belong to one run of the form. The order number and the verified
# e-mail stay, so "and cancel it" right after a status check needs neither again.
FORM_SLOTS = (
    "order_task",
    "contact",
    "new_address",
    "cancel_confirmed",
    "return_reason",
    "order_id_failures",
    "verification_failures",
    "order_task_allowed",
)


def carrier_name(turn: Turn, carrier: Optional[str]) -> str:
    """The courier as the customer's language names it ("דואר ישראל"), from the catalog's ``carrier_*`` keys.

    A courier the catalog does not name yet keeps the name the orders database has.
    """
    if not carrier:
        return ""
    key = "carrier_" + re.sub(r"[^a-z0-9]+", "_", carrier.lower()).strip("_")
    texts = turn.backends.texts
    return texts.text(key, turn.language) if key in texts else carrier


def status_values(turn: Turn, order: Order) -> Dict[str, str]:
    """Everything a status message may mention, formatted for the customer."""
    return {
        "order_id": order.order_id,
        "items": order.item_summary(turn.language),
        "eta": turn.date(order.estimated_delivery),
        "promised": turn.date(order.promised_delivery),
        "delivered": turn.date(order.delivered_at),
        "shipped": turn.date(order.shipped_at),
        "carrier": carrier_name(turn, order.carrier),
        "tracking": order.tracking_number or "",
        "address": order.shipping_address,
        "total": turn.money(order.total),
    }


def say_status(turn: Turn, order: Order) -> None:
    """Tells the order's status, e.g. ``order_status_shipped``."""
    turn.say(f"order_status_{order.status}", **status_values(turn, order))


def frustrated(turn: Turn) -> bool:
    """Whether the customer's complaint (their latest ``complain_late`` message) sounds frustrated."""
    policy = turn.backends.policy
    if not policy.rule(Trigger.COMPLAINT_FRUSTRATION).enabled:
        return False
    for event in reversed(turn.tracker.events):
        if event.get("event") != "user":
            continue
        if ((event.get("parse_data") or {}).get("intent") or {}).get("name") == "complain_late":
            return policy.is_frustrated(str(event.get("text") or ""), turn.language)
    return False


async def confirm_by_mail(turn: Turn, order: Order, change: str, *, address: str = "", key: str = "",
                          **details: str) -> None:
    """Queues the e-mail confirming a change the bot just made (to the order's own address), as the bot says."""
    mail = turn.backends.order_mail
    if mail is None:
        return
    try:
        await mail.confirm_change(order.order_id, change, language=turn.language, cid=turn.tracker.sender_id,
                                  address=address, details=details, key=key)
    except Exception:  # the order did change: the customer is told so even if the mail could not be queued
        log.exception("order %s: the confirmation e-mail of %s could not be queued", order.order_id, change)


class ActionOrderTask(KesherAction):
    """Reports or changes the verified order according to ``order_task``."""

    def name(self) -> str:
        """See :class:`KesherAction`."""
        return "action_order_task"

    async def perform(self, turn: Turn) -> List[EventType]:
        """Runs the task, then clears the form's per-run slots."""
        events = await self._task_events(turn)
        return events + [SlotSet(slot, None) for slot in FORM_SLOTS]

    async def _task_events(self, turn: Turn) -> List[EventType]:
        if int(turn.slot("verification_failures") or 0) >= MAX_ATTEMPTS:
            turn.say("verification_failed")
            return [SlotSet("order_id", None)] + await request_handoff(turn, HandoffReason.VERIFICATION_FAILED)
        order_id = turn.slot("order_id")
        order = await turn.backends.orders.get(order_id) if order_id else None
        if not verified_order_matches(order, turn.slot("contact")) or order is None:
            return [SlotSet("order_id", None)] + offer_human(
                turn, HandoffReason.ORDER_NOT_FOUND, "order_id_failed"
            )
        handlers: Dict[str, Callable[[Turn, Order], Awaitable[List[EventType]]]] = {
            "status": self._status,
            "late": self._late,
            "change_address": self._change_address,
            "cancel": self._cancel,
            "return": self._return,
        }
        handler = handlers.get(turn.slot("order_task") or "status", self._status)
        return await handler(turn, order)

    async def _status(self, turn: Turn, order: Order) -> List[EventType]:
        say_status(turn, order)
        return [SlotSet("order_status", order.status)]

    async def _late(self, turn: Turn, order: Order) -> List[EventType]:
        say_status(turn, order)
        events: List[EventType] = [SlotSet("order_status", order.status)]
        if frustrated(turn):
            turn.say("late_frustrated")
            return events + await request_handoff(turn, HandoffReason.COMPLAINT_FRUSTRATION)
        message = "late_offer_human" if order.is_late(turn.today()) else "late_on_time_offer_human"
        return events + offer_human(turn, HandoffReason.COMPLAINT, message, **status_values(turn, order))

    async def _change_address(self, turn: Turn, order: Order) -> List[EventType]:
        address = turn.slot("new_address")
        if not order.can_change_address() or not address:
            turn.say("address_not_changeable", **status_values(turn, order))
            return [SlotSet("order_status", order.status)]
        try:
            order = await turn.backends.orders.change_address(order.order_id, address, turn.now())
        except OrderStateConflict:
            turn.say("address_not_changeable", **status_values(turn, order))
            return []
        await confirm_by_mail(turn, order, "address_changed", address=order.shipping_address)
        turn.say("address_changed", **status_values(turn, order))
        return [SlotSet("order_status", order.status)]

    async def _cancel(self, turn: Turn, order: Order) -> List[EventType]:
        if not order.can_cancel():
            turn.say("cancel_not_possible", **status_values(turn, order))
            return [SlotSet("order_status", order.status)]
        if turn.slot("cancel_confirmed") is not True:
            turn.say("cancel_kept", order_id=order.order_id)
            return []
        try:
            order = await turn.backends.orders.cancel(order.order_id, turn.now())
        except OrderStateConflict:
            turn.say("cancel_not_possible", **status_values(turn, order))
            return []
        await confirm_by_mail(turn, order, "cancelled", total=turn.money(order.total))
        turn.say("order_cancelled", **status_values(turn, order))
        return [SlotSet("order_status", order.status)]

    async def _return(self, turn: Turn, order: Order) -> List[EventType]:
        check = order.check_return(turn.today())
        reason = turn.slot("return_reason")
        if check is ReturnCheck.OK and reason:
            try:
                request = await turn.backends.orders.request_return(order.order_id, reason, turn.now())
            except ReturnNotAllowed as exc:
                check = exc.check
            else:
                await confirm_by_mail(turn, order, "return_requested", key=request.rma, rma=request.rma,
                                      deadline=turn.date(order.return_deadline()))
                turn.say(
                    "return_created",
                    rma=request.rma,
                    deadline=turn.date(order.return_deadline()),
                    **status_values(turn, order),
                )
                return []
        turn.say(f"return_{check.value}", **status_values(turn, order))
        return []
