"""Asking for a human: recording the request and offering one.

The request is recorded in the tracker (``handoff_*`` slots) with its reason
and a reference the customer can quote. The handoff service (``handoff/``)
takes it from there.
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import List

from rasa_sdk.events import EventType, SlotSet

from actions.base import KesherAction, Turn

__all__ = [
    "ActionDeclineHuman",
    "ActionHandoff",
    "HandoffReason",
    "handoff_reference",
    "offer_human",
    "request_handoff",
]


class HandoffReason(StrEnum):
    """Why a conversation went (or may go) to a human."""

    EXPLICIT_REQUEST = "explicit_request"
    FALLBACK = "fallback"
    KB_NO_ANSWER = "kb_no_answer"
    COMPLAINT = "complaint"
    VERIFICATION_FAILED = "verification_failed"
    ORDER_NOT_FOUND = "order_not_found"


def handoff_reference(sender_id: str, requested_at: str) -> str:
    """A short reference for the request, e.g. ``K-3F9A1C``, stable for its inputs."""
    digest = hashlib.sha256(f"{sender_id}|{requested_at}".encode()).hexdigest()
    return f"K-{digest[:6].upper()}"


def request_handoff(turn: Turn, reason: HandoffReason) -> List[EventType]:
    """Records a request for a human and tells the customer.

    Args:
        turn: The current turn.
        reason: Why the conversation goes to a human.

    Returns:
        The slot events that record the request.
    """
    requested_at = turn.now().isoformat(timespec="seconds")
    reference = handoff_reference(turn.tracker.sender_id, requested_at)
    turn.say("handoff_requested", reference=reference)
    return [
        SlotSet("handoff_requested", True),
        SlotSet("handoff_reason", reason.value),
        SlotSet("handoff_reference", reference),
        SlotSet("handoff_requested_at", requested_at),
        SlotSet("human_offered", False),
        SlotSet("human_offer_reason", None),
    ]


def offer_human(turn: Turn, reason: HandoffReason, message: str, **values: object) -> List[EventType]:
    """Says ``message`` (which ends by offering a human) and opens the offer.

    The customer's next "yes" hands the conversation over for ``reason``; any
    other message withdraws the offer (see :mod:`actions.slot_tracking`).
    """
    turn.say(message, **values)
    return [SlotSet("human_offered", True), SlotSet("human_offer_reason", reason.value)]


class ActionHandoff(KesherAction):
    """The customer asked for a human, or accepted our offer of one."""

    def name(self) -> str:
        """See :class:`KesherAction`."""
        return "action_handoff"

    async def perform(self, turn: Turn) -> List[EventType]:
        """Records the request with the reason of the offer, if there was one."""
        offered = turn.slot("human_offer_reason")
        if turn.intent != "human_handoff" and offered in HandoffReason._value2member_map_:
            reason = HandoffReason(offered)
        else:
            reason = HandoffReason.EXPLICIT_REQUEST
        return request_handoff(turn, reason)


class ActionDeclineHuman(KesherAction):
    """The customer said no to our offer of a human."""

    def name(self) -> str:
        """See :class:`KesherAction`."""
        return "action_decline_human"

    async def perform(self, turn: Turn) -> List[EventType]:
        """Acknowledges and closes the offer."""
        turn.say("human_declined")
        return [SlotSet("human_offered", False), SlotSet("human_offer_reason", None)]
