"""Asking for a human: offering one, and handing the conversation over.

A handoff puts the conversation in the live-agent queue (``handoff.desk``),
records the request in the tracker (``handoff_*`` slots) with its reason and
a reference the customer can quote, and tells the customer their place in
line. From then on the channels route the customer's messages to the agent,
not to the bot, until the agent closes the conversation.
"""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from typing import Any, Dict, List

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet

from actions.base import KesherAction, Turn
from core.errors import TooManyRequests
from core.service_events import contact_id
from handoff.models import HandoffRequest
from handoff.policy import Trigger, recent_intents

__all__ = [
    "ActionDeclineHuman",
    "ActionHandoff",
    "HandoffReason",
    "escalate",
    "handoff_reference",
    "offer_human",
    "request_handoff",
    "session_contact",
]


class HandoffReason(StrEnum):
    """Why a conversation went (or may go) to a human."""

    # The first five are the triggers of handoff/policy.yml.
    EXPLICIT_REQUEST = "explicit_request"
    FALLBACK = "consecutive_fallbacks"
    COMPLAINT_FRUSTRATION = "complaint_frustration"
    OUT_OF_SCOPE = "repeated_out_of_scope"
    VERIFICATION_FAILED = "verification_failed"
    # Offers the customer may accept.
    KB_NO_ANSWER = "kb_no_answer"
    COMPLAINT = "complaint"
    ORDER_NOT_FOUND = "order_not_found"
    ANSWER_REJECTED = "answer_rejected"


def handoff_reference(sender_id: str, requested_at: str) -> str:
    """A short reference for the request, e.g. ``K-3F9A1C``, stable for its inputs."""
    digest = hashlib.sha256(f"{sender_id}|{requested_at}".encode()).hexdigest()
    return f"K-{digest[:6].upper()}"


MAX_ASKED = 10
# Said to the bot rather than asked of it: the agent's transcript keeps them, "what you asked" leaves them out.
# Not core.service_events.NOT_TOPICS: a question the bot could not place (out_of_scope, nlu_fallback) is just
# what the agent and the e-mail must show.
SMALL_TALK = frozenset({"greet", "goodbye", "thank", "affirm", "deny"})
_WORD = re.compile(r"\w")


def _asks_something(event: Dict[str, Any]) -> bool:
    """Whether a customer's message asked something: not a greeting, thanks, yes or no, nor a bare value.

    A message that is only the values the bot extracted (an order number, an e-mail address, a phone) answered
    the bot's question; those values are in "what we found" already.
    """
    text = str(event.get("text") or "")  # the entities' offsets are into the text as written
    if not text.strip() or text.lstrip().startswith("/"):
        return False
    parse = event.get("parse_data") or {}
    if str((parse.get("intent") or {}).get("name") or "") in SMALL_TALK:
        return False
    rest = text
    for entity in sorted(parse.get("entities") or [], key=lambda e: -int(e.get("start") or 0)):
        start, end = entity.get("start"), entity.get("end")
        if isinstance(start, int) and isinstance(end, int) and 0 <= start < end <= len(rest):
            rest = rest[:start] + " " + rest[end:]
    return bool(_WORD.search(rest))


def what_the_customer_asked(tracker: Tracker) -> List[str]:
    """What the customer asked so far (the last ten messages that asked something), oldest first.

    For the agent's panel and the handoff e-mail's "what you asked": greetings, thanks, yes and no, and
    messages that only gave an order number or an e-mail address are left out (:func:`_asks_something`).
    """
    asked = [e for e in tracker.events if e.get("event") == "user" and _asks_something(e)]
    return [str(e.get("text") or "").strip()[:500] for e in asked][-MAX_ASKED:]


def session_contact(tracker: Tracker) -> str:
    """The bot session the conversation is in (``contact_id``), if its start is among the tracker's events.

    The tracker the action server gets holds only the last dozen messages; when the session started
    earlier, "" lets the desk take the contact the tracker store kept.
    """
    for event in reversed(tracker.events):
        if event.get("event") == "action" and event.get("name") == "action_session_start":
            return contact_id(tracker.sender_id, float(event.get("timestamp") or 0))
    return ""


def what_the_bot_found(turn: Turn) -> List[str]:
    """Facts the bot established (verified order and its status), one line each, in the customer's language.

    The agent reads them in the console, and the customer in the handoff e-mail.
    """
    found: List[str] = []
    order_id, status = turn.slot("order_id"), turn.slot("order_status")
    texts, language = turn.backends.texts, turn.language
    status_name = texts.text(f"status_{status}", language) if f"status_{status}" in texts else str(status or "")
    if turn.slot("verified_email"):
        found.append(texts.text("found_identity_verified", language, email=turn.slot("verified_email")))
    if order_id and status:
        found.append(texts.text("found_order_status", language, order_id=order_id, status=status_name))
    elif order_id:
        found.append(texts.text("found_order", language, order_id=order_id))
    elif status:
        found.append(texts.text("found_last_status", language, status=status_name))
    return found


async def request_handoff(turn: Turn, reason: HandoffReason) -> List[EventType]:
    """Hands the conversation to a human: queue, tracker slots, and a reply with the place in line.

    Args:
        turn: The current turn.
        reason: Why the conversation goes to a human.

    Returns:
        The slot events that record the request.
    """
    requested_at = turn.now().isoformat(timespec="seconds")
    reference = handoff_reference(turn.tracker.sender_id, requested_at)
    desk = turn.backends.handoff
    policy = turn.backends.policy
    channel = turn.tracker.get_latest_input_channel() or "rest"
    if channel not in policy.live_channels:
        # This channel cannot carry an agent's answers: queuing would leave the customer waiting forever.
        turn.say("handoff_requested", reference=reference)
        turn.say("handoff_no_live_chat")
    elif desk is not None:
        request = HandoffRequest(
            cid=turn.tracker.sender_id,
            channel=channel,
            language=turn.language,
            reason=reason.value,
            reference=reference,
            priority=policy.priority(reason.value),
            topic=policy.topic_for(recent_intents(turn.tracker.events)),
            email=str(turn.slot("verified_email") or ""),
            verified_order=str(turn.slot("order_id") or "") if turn.slot("verified_email") else "",
            asked=what_the_customer_asked(turn.tracker),
            found=what_the_bot_found(turn),
            contact=session_contact(turn.tracker),
        )
        try:
            ticket = await desk.request(request)
        except TooManyRequests as exc:
            # Asked for a person again and again lately: not queued again; they can still write to us.
            turn.say("handoff_too_often", minutes=max(1, -(-exc.retry_after // 60)))
            return [SlotSet("human_offered", False), SlotSet("human_offer_reason", None)]
        reference = ticket.reference  # already queued: keep the first reference
        turn.say("handoff_requested", reference=reference)
        turn.dispatcher.utter_message(text=desk.ticket_text(ticket, turn.language))
        if not ticket.email_known:
            turn.say("handoff_ask_email")
    else:
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
    other message withdraws the offer (``rasa run`` does it: :mod:`bot.slot_extraction`).
    """
    turn.say(message, **values)
    return [SlotSet("human_offered", True), SlotSet("human_offer_reason", reason.value)]


async def escalate(
    turn: Turn, reason: HandoffReason, offer_message: str, **values: object
) -> List[EventType]:
    """Hands over or offers a human, as the policy's ``mode`` for ``reason`` says.

    Args:
        turn: The current turn.
        reason: One of the policy's triggers.
        offer_message: What to say when offering (it ends with the question).
        **values: The message's placeholders.
    """
    rule = turn.backends.policy.rule(Trigger(reason.value))
    if rule.enabled and rule.mode == "handoff":
        return await request_handoff(turn, reason)
    if rule.enabled:
        return offer_human(turn, reason, offer_message, **values)
    return []


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
        return await request_handoff(turn, reason)


class ActionDeclineHuman(KesherAction):
    """The customer said no to our offer of a human."""

    def name(self) -> str:
        """See :class:`KesherAction`."""
        return "action_decline_human"

    async def perform(self, turn: Turn) -> List[EventType]:
        """Acknowledges and closes the offer."""
        turn.say("human_declined")
        return [SlotSet("human_offered", False), SlotSet("human_offer_reason", None)]
