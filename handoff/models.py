"""The records the handoff service keeps: conversations, events and agents.

They are stored as Redis hashes and stream entries of strings; each record
converts itself with ``to_redis`` / ``from_redis``.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from typing import Any, Dict, List, Mapping, Optional, Tuple

from core.language import LANGUAGES, Language

__all__ = [
    "Agent",
    "Conversation",
    "ConversationState",
    "Event",
    "EventKind",
    "HandoffRequest",
    "OutboundMessage",
    "QueueTicket",
]


class ConversationState(StrEnum):
    """Where a conversation stands; see the state machine in ``handoff/state.py``."""

    BOT = "bot"
    QUEUED = "queued"
    WITH_AGENT = "with_agent"
    CLOSED = "closed"


class EventKind(StrEnum):
    """What an entry of a conversation's event stream is."""

    CUSTOMER = "customer"  # the customer wrote (reaches the agent, never the bot)
    AGENT = "agent"  # an agent answered (delivered to the customer)
    SYSTEM = "system"  # the service told the customer something (queue position, agent name)
    NOTE = "note"  # an agent's internal note (never shown to the customer)
    STATE = "state"  # the state changed (queued, taken, transferred, closed, resumed)


def _str(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


@dataclass
class HandoffRequest:
    """What the bot knows when it hands a conversation over.

    Attributes:
        cid: The conversation id (Rasa's sender id).
        channel: The channel the customer writes on (``callback``, ``web``, ...).
        language: ``he`` or ``en``.
        reason: Why (``handoff.policy.Trigger`` value).
        reference: The reference the customer was given, e.g. ``K-3F9A1C``.
        contact: The bot session (episode) the request came from (``core.service_events.contact_id``);
            empty: the desk looks it up.
        priority: Higher is served first (from the policy).
        topic: Routing topic from the last intents (``orders``, ``returns``, ...).
        customer_name: Known name, from a verified order.
        email: The e-mail of the verified order (checked against the identity book by the desk).
        phone: Known phone.
        verified_order: The order the customer proved is theirs, if any.
        asked: What the customer asked the bot, oldest first.
        found: What the bot found (order statuses, articles), one line each.
    """

    cid: str
    channel: str
    language: str
    reason: str
    reference: str
    priority: int = 0
    topic: str = "general"
    customer_name: str = ""
    email: str = ""
    phone: str = ""
    verified_order: str = ""
    asked: List[str] = field(default_factory=list)
    found: List[str] = field(default_factory=list)
    contact: str = ""


@dataclass
class Conversation:
    """One conversation's handoff record, as stored in its Redis hash."""

    cid: str
    state: ConversationState = ConversationState.BOT
    channel: str = ""
    language: str = "en"
    reason: str = ""
    reference: str = ""
    priority: int = 0
    topic: str = "general"
    team: str = ""
    target_agent: str = ""
    left_by: str = ""  # the agent who left the customer unanswered: the assigner gives the chat to anyone else
    agent_id: str = ""
    agent_name: str = ""
    customer_name: str = ""
    email: str = ""  # verified only (an order's own address, or a code): mailed to, selects orders and history
    email_unverified: str = ""  # typed and not (yet) proved: shown marked, never mailed or looked up
    email_consent: bool = False
    email_requested: bool = False  # the customer is asked for an address (and, once typed, for its code)
    phone: str = ""
    verified_order: str = ""
    asked: List[str] = field(default_factory=list)
    found: List[str] = field(default_factory=list)
    requested_at: float = 0.0  # epoch seconds of the first request of this handoff
    queued_at: float = 0.0  # epoch seconds it last entered the queue
    assigned_at: float = 0.0
    closed_at: float = 0.0
    resolution: str = ""
    summary: str = ""  # the agent's closing summary for the customer
    next_steps: str = ""
    after_hours: bool = False
    notified_position: int = 0
    notified_eta: int = 0
    csat_stage: str = ""  # "" | "rating" | "comment" | "done"
    csat_rating: int = 0
    csat_comment: str = ""
    outcome_pending: bool = False  # the outcome is not yet in the Rasa tracker
    contact: str = ""  # the bot session the handoff came from: every event of the handoff carries it
    agent_replies: int = 0  # agents' messages since the request (the first one is flagged in the event log)
    version: int = 0  # bumped by every transition

    @classmethod
    def from_redis(cls, cid: str, raw: Mapping[str, str]) -> Optional[Conversation]:
        """Builds the record from ``HGETALL``; None when the hash is empty."""
        if not raw:
            return None
        values: Dict[str, Any] = {}
        for f in fields(cls):
            if f.name == "cid" or f.name not in raw:
                continue
            text = raw[f.name]
            kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            if f.name == "state":
                values[f.name] = ConversationState(text)
            elif kind in ("int",):
                values[f.name] = int(float(text or 0))
            elif kind in ("float",):
                values[f.name] = float(text or 0)
            elif kind in ("bool",):
                values[f.name] = text == "1"
            elif kind.startswith("List"):
                values[f.name] = json.loads(text) if text else []
            else:
                values[f.name] = text
        return cls(cid=cid, **values)

    def to_redis(self) -> Dict[str, str]:
        """The hash fields (every value a string)."""
        return {k: _str(v) for k, v in asdict(self).items() if k != "cid"}

    @property
    def customer_key(self) -> str:
        """Who the customer is across conversations: verified e-mail, else phone, else the conversation.

        A typed address the customer did not prove never keys anything (``email_unverified``).
        """
        return (self.email or self.phone or self.cid).strip().lower()

    @property
    def in_handoff(self) -> bool:
        """True while the bot must stay silent."""
        return self.state in (ConversationState.QUEUED, ConversationState.WITH_AGENT)

    def visible_to(self, agent: Agent) -> bool:
        """Who may read it: its agent, a supervisor, anyone while it waits in the queue."""
        return agent.role == "supervisor" or self.agent_id == agent.agent_id or self.state is ConversationState.QUEUED


@dataclass
class Event:
    """One entry of a conversation's event stream.

    Attributes:
        kind: What it is.
        text: What was said (plain text; the console escapes it).
        author: ``customer``, the agent's id, or ``kesher``.
        author_name: Shown in the console and to the customer for agents.
        at: Epoch seconds.
        message_id: Unique id; the outbound copy and the console use it to show
            a message once.
        data: Anything else (buttons, resolution, media URLs), JSON-serialisable.
        stream_id: The Redis stream id, once stored.
    """

    kind: EventKind
    text: str
    author: str = ""
    author_name: str = ""
    at: float = 0.0
    message_id: str = ""
    data: Dict[str, Any] = field(default_factory=dict)
    stream_id: str = ""

    def to_redis(self) -> Dict[str, str]:
        """The stream entry fields."""
        return {
            "kind": self.kind.value,
            "text": self.text,
            "author": self.author,
            "author_name": self.author_name,
            "at": repr(self.at),
            "message_id": self.message_id,
            "data": json.dumps(self.data, ensure_ascii=False),
        }

    @classmethod
    def from_redis(cls, stream_id: str, raw: Mapping[str, str]) -> Event:
        """Builds the event from a stream entry."""
        return cls(
            kind=EventKind(raw.get("kind", "system")),
            text=raw.get("text", ""),
            author=raw.get("author", ""),
            author_name=raw.get("author_name", ""),
            at=float(raw.get("at") or 0),
            message_id=raw.get("message_id", ""),
            data=json.loads(raw.get("data") or "{}"),
            stream_id=stream_id,
        )

    def to_json(self) -> Dict[str, Any]:
        """The event as the console's JSON."""
        out = asdict(self)
        out["kind"] = self.kind.value
        return out


@dataclass
class OutboundMessage:
    """A message for a customer, put on the outbound stream for their channel.

    Attributes:
        message_id: Unique id; the delivery worker sends each id once.
        cid: The conversation (Rasa sender id).
        channel: The channel to send it through.
        text: The text.
        buttons: ``(title, payload)`` pairs; channels without buttons number them.
        kind: ``bot``, ``agent`` or ``system``.
        author_name: The agent's first name, for channels that show it.
        image: URL of an image to show with the text ("" for none).
        template: The approved WhatsApp template to use outside WhatsApp's 24-hour window
            (``late_order``; ``agent_reply`` is implied for agents' messages); other channels ignore it.
        template_vars: The template's variables (``{"1": ..., "2": ...}``).
        language: The customer's language, which picks the template's language ("" unknown).
    """

    message_id: str
    cid: str
    channel: str
    text: str
    buttons: Tuple[Tuple[str, str], ...] = ()
    kind: str = "system"
    author_name: str = ""
    image: str = ""
    template: str = ""
    template_vars: Dict[str, str] = field(default_factory=dict)
    language: str = ""

    def to_redis(self) -> Dict[str, str]:
        """The stream entry fields."""
        extra: Dict[str, str] = {}
        if self.template:
            extra["template"] = self.template
        if self.template_vars:
            extra["template_vars"] = json.dumps(self.template_vars, ensure_ascii=False)
        if self.language:
            extra["language"] = self.language
        return {
            **extra,
            "message_id": self.message_id,
            "cid": self.cid,
            "channel": self.channel,
            "text": self.text,
            "buttons": json.dumps([list(b) for b in self.buttons], ensure_ascii=False),
            "kind": self.kind,
            "author_name": self.author_name,
            "image": self.image,
        }

    @classmethod
    def from_redis(cls, raw: Mapping[str, str]) -> OutboundMessage:
        """Builds the message from a stream entry."""
        buttons = tuple((str(t), str(p)) for t, p in json.loads(raw.get("buttons") or "[]"))
        return cls(
            message_id=raw["message_id"],
            cid=raw["cid"],
            channel=raw.get("channel", ""),
            text=raw.get("text", ""),
            buttons=buttons,
            kind=raw.get("kind", "system"),
            author_name=raw.get("author_name", ""),
            image=raw.get("image", ""),
            template=raw.get("template", ""),
            template_vars={str(k): str(v) for k, v in json.loads(raw.get("template_vars") or "{}").items()},
            language=raw.get("language", ""),
        )


@dataclass
class Agent:
    """A person who answers customers, from the agents file plus live presence.

    Attributes:
        agent_id: Login name.
        name: Full name; customers see the first name only.
        password_hash: argon2 hash.
        languages: Languages they answer in.
        topics: Topics they know best (routing prefers them).
        teams: Teams they belong to.
        capacity: Most conversations at once.
        role: ``agent``, ``supervisor``, ``writer`` or ``manager``.
        email: Reply-to address for closing e-mails.
        ui_language: The language of their console (None: the ``console_language`` setting).
        display_names: ``(language, name)`` pairs: what customers of that language call the agent
            ("דנה" / "Dana"); without one, the first name.
    """

    agent_id: str
    name: str
    password_hash: str = ""
    languages: Tuple[str, ...] = LANGUAGES
    topics: Tuple[str, ...] = ()
    teams: Tuple[str, ...] = ()
    capacity: int = 3
    role: str = "agent"
    email: str = ""
    ui_language: Optional[Language] = None
    display_names: Tuple[Tuple[str, str], ...] = ()

    @property
    def first_name(self) -> str:
        """What customers call the agent."""
        return self.name.split()[0] if self.name else self.agent_id

    def display_name(self, language: Optional[str]) -> str:
        """What a customer writing ``language`` calls the agent: the display name for it, else the first name."""
        return dict(self.display_names).get(language or "") or self.first_name


@dataclass(frozen=True)
class QueueTicket:
    """What the customer is told on entering the queue.

    Attributes:
        state: The state after the request (``queued``, or ``with_agent`` if it was already).
        position: 1 for next in line.
        eta_minutes: Estimated wait, rounded up; 0 when unknown.
        agents_online: How many agents are online right now.
        in_hours: Whether it is within business hours.
        reference: The request's reference.
        email_known: Whether the customer's e-mail is known (else the bot asks for it).
    """

    state: ConversationState
    position: int
    eta_minutes: int
    agents_online: int
    in_hours: bool
    reference: str
    email_known: bool = False
