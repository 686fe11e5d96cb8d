"""The backends the actions use, built once per action-server process.

rasa_sdk creates every action with no arguments, so an action that is not
given a backend takes the process-wide one from here. Nothing connects or
reads files until an action first needs it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import lru_cache
from typing import Callable, Optional, Protocol

from actions.kb.search import InMemoryKnowledgeBase, KnowledgeBase
from actions.messages import MessageCatalog
from actions.orders.repository import OrderRepository, SqlOrderRepository
from bot.settings import Settings
from handoff.models import HandoffRequest, QueueTicket
from handoff.policy import HandoffPolicy, load_policy

__all__ = ["Backends", "Clock", "HandoffQueue", "default_backends"]

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


@dataclass(frozen=True)
class Backends:
    """Everything an action talks to besides the tracker."""

    orders: OrderRepository
    kb: KnowledgeBase
    messages: MessageCatalog
    clock: Clock = datetime.now
    default_language: str = "en"
    policy: HandoffPolicy = field(default_factory=load_policy)
    handoff: Optional[HandoffQueue] = None


@lru_cache(maxsize=1)
def default_backends() -> Backends:
    """The backends configured by the environment (see :class:`bot.settings.Settings`).

    Reads the message files; opens no connection (the Redis client of the
    handoff queue connects on first use).
    """
    from handoff.agents import load_agents
    from handoff.desk import Desk
    from handoff.mail.outbox import MailOutbox
    from handoff.state import HandoffStore

    settings = Settings.from_env()
    policy = load_policy(settings.handoff_policy)
    redis = settings.redis_client()
    store = HandoffStore(redis)
    desk = Desk(store, policy, load_agents(settings.agents_file), outbox=MailOutbox(redis, store.keys))
    return Backends(
        orders=SqlOrderRepository.from_url(settings.orders_db_url),
        kb=InMemoryKnowledgeBase(settings.kb_dir),
        messages=MessageCatalog.from_dir(),
        default_language=settings.default_language,
        policy=policy,
        handoff=desk,
    )
