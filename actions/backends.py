"""What the actions talk to besides the tracker, passed in through their constructors.

The composition root (``wiring.container``) builds one :class:`Backends` per
action-server process and hands it to every action (``actions.server``);
tests build their own (a seeded SQLite store, a fixed clock).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Callable, Mapping, Optional, Protocol

from actions.kb.search import KnowledgeBase
from actions.orders.repository import OrderRepository
from core.language import Language
from core.texts import TextCatalog
from handoff.models import HandoffRequest, QueueTicket
from handoff.policy import HandoffPolicy

__all__ = ["Backends", "CallbackFiler", "Clock", "EventRecorder", "HandoffQueue", "OrderConfirmations"]

Clock = Callable[[], datetime]


class HandoffQueue(Protocol):
    """The live-agent queue as the bot sees it (``handoff.desk.Desk``)."""

    async def request(self, req: HandoffRequest) -> QueueTicket:
        """Puts the conversation in the queue once; says where it stands."""
        ...

    def ticket_text(self, ticket: QueueTicket, language: str) -> str:
        """What to tell the customer about their place in the queue."""
        ...

    async def customer_verified(self, cid: str, email: str, channel: str, language: str) -> str:
        """Links this chat to the customer's earlier conversation; what to tell them ("" if none)."""
        ...


class OrderConfirmations(Protocol):
    """The e-mail confirming an order change (``handoff.mail.orders.OrderMail``)."""

    async def confirm_change(self, order_id: str, change: str, *, language: str, cid: str = "", address: str = "",
                             details: Optional[Mapping[str, Any]] = None, key: str = "") -> bool:
        """Queues the confirmation of one change once; False if it was queued before."""
        ...


class EventRecorder(Protocol):
    """The service-event log as the actions see it (``handoff.event_log.EventLog``)."""

    async def record(self, kind: str, conversation: str, **values: Any) -> Optional[str]:
        """Records one :class:`core.service_events.ServiceEvent`; never raises."""
        ...


class CallbackFiler(Protocol):
    """Where "call me back" requests go (``handoff.callbacks.CallbackBook``)."""

    async def create(self, cid: str, channel: str, language: str, phone: str, preferred_at: float) -> Any:
        """Files one request; returns it (its ``callback_id`` is the customer's reference)."""
        ...


@dataclass(frozen=True)
class Backends:
    """Everything an action talks to besides the tracker.

    Attributes:
        orders: The orders store.
        kb: The help-centre articles.
        texts: What the actions say, in both languages.
        policy: When to hand over, and to whom.
        handoff: The live-agent queue (None: no handoff, e.g. in unit tests of other actions).
        clock: Now, for dates the customer is told (tests fix it).
        default_language: The language before the customer has written a word.
        events: The service-event log (None: nothing recorded, e.g. in unit tests of other actions).
        csat_bot_sample: Share of bot-only conversations asked to rate the chat (``KESHER_CSAT_BOT_SAMPLE``).
        callbacks: Where "call me back" requests go (None: the bot offers the chat queue instead).
        order_mail: Confirms each order change by e-mail (None: nothing mailed, e.g. in unit tests).
    """

    orders: OrderRepository
    kb: KnowledgeBase
    texts: TextCatalog
    policy: HandoffPolicy
    handoff: Optional[HandoffQueue] = None
    clock: Clock = datetime.now
    default_language: Language = "en"
    events: Optional[EventRecorder] = None
    csat_bot_sample: float = 0.0
    callbacks: Optional[CallbackFiler] = None
    order_mail: Optional[OrderConfirmations] = None
