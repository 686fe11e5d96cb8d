"""What the event log records: one :class:`ServiceEvent` per thing that happened to a customer.

Every process emits these (``handoff/event_log.py`` puts them on a Redis stream, off
the caller's critical path); one mover per handoff service writes them into the
event log's SQL database (``analytics/``), where the KPIs of ``docs/kpis.md`` are
computed. This module is only the record and its wire format: it imports nothing.

Each kind uses the columns below in one way, written here once:

=====================  ==================================================================================
kind                   meaning of ``outcome`` / ``reason`` / ``value`` / ``text``
=====================  ==================================================================================
``turn``               one customer message the bot handled. ``intent``, ``confidence``; ``outcome``
                       ``answered`` | ``fell_back`` | ``handed_off`` | ``rejected`` (the customer said the bot's
                       last answer missed: "that's not what I asked", a thumbs-down); ``topic`` what the
                       customer asked about (:func:`turn_topic`: the FAQ answer's key, else the intent; empty
                       for small talk and dialogue moves, :data:`NOT_TOPICS`);
                       ``text`` the customer's words (masked, at most 500 characters) when the bot fell
                       back or handed off, else empty; ``value`` the turn's milliseconds, if measured.
``handoff_queued``     the conversation entered the queue. ``reason`` the trigger; ``topic``; ``text``
                       the last thing the customer asked (masked).
``handoff_assigned``   an agent took it (or routing gave it). ``agent``, ``team``; ``value`` seconds it
                       waited in the queue.
``handoff_transferred``  moved to another agent or team. ``agent`` the new one (or empty), ``team``,
                       ``reason`` ``agent`` | ``team`` (an agent's transfer), ``agent_silent`` (the
                       customer was left unanswered) | ``supervisor`` (a supervisor moved it).
``agent_message``      an agent wrote to the customer. ``agent``, ``team``; ``reason`` ``first`` for the first
                       reply of this handoff (then ``value`` is seconds since assignment), else empty.
``closed``             an agent closed it. ``agent``, ``team``; ``reason`` the resolution code;
                       ``value`` handling seconds (assigned → closed).
``abandoned``          the customer left while queued. ``reason`` ``gave_up`` (said so), ``timed_out`` (the
                       conversation lapsed in the queue: nothing happened in it for nearly the retention) or
                       ``expired`` (its record was gone when seen: no ``contact``, channel or language);
                       ``value`` seconds waited (not for ``expired``).
``returned_to_bot``    the bot has the conversation again. ``reason`` why (``csat_done``...).
``csat_asked``         the customer was asked to rate. ``reason`` ``agent`` | ``bot``.
``csat``               the customer rated. ``value`` 1–5; ``reason`` ``agent`` | ``bot``; ``agent``
                       who handled it, if a person did, and its ``team`` (CSAT per team reads it);
                       ``text`` the comment, masked.
``email_sent``         an e-mail went to the customer. ``reason`` its kind (``handoff_summary``...).
``notice_sent``        the service told the customer something unasked. ``reason`` its kind.
``agent_action``       an agent acted on the customer's behalf. ``agent``; ``reason`` the action
                       (``cancel_order``, ``change_address``, ``store_credit``, ``transfer``, a supervisor's
                       ``supervisor_reassign``, ``supervisor_join``, ``supervisor_message``); ``topic`` the
                       order acted on; ``value`` an amount, if any.
``callback``           a "call me back" request (#18). ``reason`` ``requested`` (the bot took it; ``text``
                       the preferred time, ISO) or ``closed`` (``agent``; ``outcome`` how it ended).
=====================  ==================================================================================

``contact`` names one episode of a conversation (a Rasa session): KPIs such as
containment and first-contact resolution count contacts, not messages. Every event
of one episode carries the same ``contact``; :func:`contact_id` builds it.

A conversation id may hold a phone number (``whatsapp:+972...``). The event log's
database never sees it: the mover stores :meth:`ServiceEvent.pseudonymised` rows,
where the id (also inside ``contact``) is replaced by a keyed HMAC
(:func:`pseudonym`), the same for every event of a conversation, so the KPIs can still
tell conversations apart and follow one over seven days.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import asdict, dataclass, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Dict, Mapping, Optional

__all__ = ["NOT_TOPICS", "EventKind", "ServiceEvent", "TurnOutcome", "contact_id", "pseudonym", "turn_topic"]


class EventKind(StrEnum):
    """What happened; see the module docstring for what each kind puts in which column."""

    TURN = "turn"
    HANDOFF_QUEUED = "handoff_queued"
    HANDOFF_ASSIGNED = "handoff_assigned"
    HANDOFF_TRANSFERRED = "handoff_transferred"
    AGENT_MESSAGE = "agent_message"
    CLOSED = "closed"
    ABANDONED = "abandoned"
    RETURNED_TO_BOT = "returned_to_bot"
    CSAT_ASKED = "csat_asked"
    CSAT = "csat"
    EMAIL_SENT = "email_sent"
    NOTICE_SENT = "notice_sent"
    AGENT_ACTION = "agent_action"
    CALLBACK = "callback"


class TurnOutcome(StrEnum):
    """How the bot handled one customer message."""

    ANSWERED = "answered"
    FELL_BACK = "fell_back"
    HANDED_OFF = "handed_off"
    REJECTED = "rejected"


NOT_TOPICS = frozenset({
    "greet", "goodbye", "thank", "affirm", "deny", "inform", "rate", "bot_challenge", "capabilities",
    "answer_rejected", "nlu_fallback", "out_of_scope",
})
"""Intents that say nothing about what the customer needs: small talk (hello, thanks, "are you a bot?"), dialogue
moves (yes, no, a form's answer, a rating, "that's not what I asked") and what the bot did not understand. A turn
with one of these has no topic, so first-contact resolution (``docs/kpis.md``) never counts two greetings a few
days apart as the same problem coming back."""


def turn_topic(intent: str, answer_key: str = "") -> str:
    """What a customer message was about: the FAQ answer's key if the bot answered from the FAQ, else its intent.

    Args:
        intent: The intent the NLU found.
        answer_key: The retrieval answer's key (``faq/shipping_cost``) when the FAQ answered, else "".

    Returns:
        The topic; "" for the intents of :data:`NOT_TOPICS` (and for no intent).
    """
    if answer_key:
        return answer_key
    return "" if intent in NOT_TOPICS else intent


def contact_id(conversation: str, session_start: float) -> str:
    """The id of one episode: the conversation and the start of its session (epoch seconds)."""
    return f"{conversation}@{int(session_start)}"


def pseudonym(secret: str, conversation: str) -> str:
    """The event log's stand-in for a conversation id: ``p:`` and 32 hex digits of HMAC-SHA-256 under ``secret``."""
    digest = hmac.new(secret.encode("utf-8"), conversation.encode("utf-8", "surrogatepass"), hashlib.sha256)
    return "p:" + digest.hexdigest()[:32]


_TEXT_LIMIT = 500


@dataclass(frozen=True)
class ServiceEvent:
    """One row of the event log (the table ``service_events`` in ``analytics/tables.py``).

    Attributes:
        kind: What happened (an :class:`EventKind` value).
        conversation: The conversation id (Rasa's sender id).
        at: When, in UTC.
        contact: The episode (:func:`contact_id`); empty when the emitter cannot know it.
        channel: The channel's name (:data:`core.channels.CHANNELS`: ``web``, ``whatsapp``, ``kesher_rest``...).
        language: ``he`` or ``en``.
        intent: The intent the NLU found (turns).
        confidence: Its confidence, 0–1 (turns).
        outcome: A :class:`TurnOutcome` value (turns).
        reason: Why, or which (see the table in the module docstring).
        topic: The FAQ or routing topic.
        agent: The agent's id.
        team: The team's id.
        value: A number whose meaning depends on the kind (seconds, a rating, milliseconds).
        text: The customer's words or a comment, masked, at most 500 characters.
    """

    kind: str
    conversation: str
    at: datetime
    contact: str = ""
    channel: str = ""
    language: str = ""
    intent: str = ""
    confidence: Optional[float] = None
    outcome: str = ""
    reason: str = ""
    topic: str = ""
    agent: str = ""
    team: str = ""
    value: Optional[float] = None
    text: str = ""

    def to_fields(self) -> Dict[str, str]:
        """The event as a Redis stream entry (strings only; empty numbers are left out)."""
        out: Dict[str, str] = {}
        for name, value in asdict(self).items():
            if value is None or value == "":
                continue
            if name == "at":
                out[name] = f"{value.timestamp():.6f}"
            elif name == "text":
                out[name] = str(value)[:_TEXT_LIMIT]
            else:
                out[name] = str(value)
        return out

    @classmethod
    def from_fields(cls, data: Mapping[str, str]) -> ServiceEvent:
        """Reads back what :meth:`to_fields` wrote; unknown fields are ignored."""
        known = {f.name for f in fields(cls)}
        values: Dict[str, object] = {k: v for k, v in data.items() if k in known}
        values["at"] = datetime.fromtimestamp(float(data["at"]), tz=UTC)
        for name in ("confidence", "value"):
            if name in values:
                values[name] = float(str(values[name]))
        return cls(**values)  # type: ignore[arg-type]

    def pseudonymised(self, secret: str) -> ServiceEvent:
        """The event with its conversation id, and the id inside ``contact``, replaced by :func:`pseudonym`."""
        alias = pseudonym(secret, self.conversation)
        contact = self.contact
        if contact:
            conversation, sep, start = contact.rpartition("@")
            contact = f"{pseudonym(secret, conversation)}@{start}" if sep else pseudonym(secret, contact)
        return replace(self, conversation=alias, contact=contact)

    def as_row(self) -> Dict[str, object]:
        """The event as column values of ``service_events`` (naive UTC time, as SQL stores it)."""
        row: Dict[str, object] = asdict(self)
        row["at"] = self.at.astimezone(UTC).replace(tzinfo=None)
        row["text"] = self.text[:_TEXT_LIMIT]
        return row
