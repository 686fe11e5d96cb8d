"""The audit of what agents did to a customer's orders during one handoff.

An agent's action (cancel an order, change its address, issue store credit) is
done by ``actions.orders.agent_service`` under the store's rules; this module
keeps what was done, in the handoff domain, where the desk and the mail worker
can read it without knowing the orders store:

- one JSON record per action on a Redis list per handoff (conversation and
  reference), expiring with the conversation's retention: the closing e-mail
  lists exactly these actions, whatever resolution code the agent chose;
- a note in the conversation's timeline, which the next agent sees;
- a service event of kind ``agent_action`` (``reason`` the action, ``topic``
  the order, ``value`` the amount of store credit).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any, Dict, List

from core.language import as_language
from core.service_events import EventKind as ServiceEventKind
from core.texts import TextCatalog
from handoff.models import Agent, Conversation, Event, EventKind
from handoff.state import HandoffStore

__all__ = ["AgentActionKind", "AgentActionLog", "AgentActionRecord"]

log = logging.getLogger(__name__)

MAX_ACTIONS = 100  # per handoff; a runaway client cannot grow the list without bound


class AgentActionKind(StrEnum):
    """What an agent may do to an order (the ``reason`` of its ``agent_action`` event)."""

    CANCEL_ORDER = "cancel_order"
    CHANGE_ADDRESS = "change_address"
    STORE_CREDIT = "store_credit"


@dataclass(frozen=True)
class AgentActionRecord:
    """One thing an agent did to an order.

    Attributes:
        kind: What was done.
        order_id: The order.
        agent_id: Who did it.
        agent_name: Their full name.
        at: Epoch seconds.
        amount: Store credit issued, as a decimal string ("" for other actions).
        currency: Its currency.
        code: The store credit's code.
        address: The new delivery address.
    """

    kind: AgentActionKind
    order_id: str
    agent_id: str
    agent_name: str
    at: float
    amount: str = ""
    currency: str = ""
    code: str = ""
    address: str = ""

    def to_json(self) -> Dict[str, Any]:
        """A JSON-serialisable copy."""
        data = asdict(self)
        data["kind"] = self.kind.value
        return data

    @classmethod
    def from_json(cls, data: Dict[str, Any]) -> AgentActionRecord:
        """The record :meth:`to_json` wrote.

        Raises:
            ValueError: Not such a record.
        """
        return cls(
            kind=AgentActionKind(str(data["kind"])), order_id=str(data["order_id"]), agent_id=str(data["agent_id"]),
            agent_name=str(data.get("agent_name") or ""), at=float(data.get("at") or 0.0),
            amount=str(data.get("amount") or ""), currency=str(data.get("currency") or ""),
            code=str(data.get("code") or ""), address=str(data.get("address") or ""),
        )


class AgentActionLog:
    """Keeps, per handoff, the actions agents took, with a timeline note and a service event each."""

    def __init__(self, store: HandoffStore, texts: TextCatalog) -> None:
        """Keeps its collaborators; opens nothing.

        Args:
            store: The handoff state in Redis (its keys, retention and event log).
            texts: The timeline notes' wording (``agent_note_order_*``).
        """
        self.store = store
        self.texts = texts

    async def add(self, conv: Conversation, agent: Agent, record: AgentActionRecord) -> Event:
        """Records an action that was done: the audit list, the timeline note and the ``agent_action`` event.

        Args:
            conv: The conversation, in the handoff the action belongs to.
            agent: Who acted.
            record: What was done.

        Returns:
            The timeline note.
        """
        key = self.store.keys.agent_actions(conv.cid, conv.reference)
        async with self.store.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(key, json.dumps(record.to_json(), ensure_ascii=False))
            pipe.ltrim(key, -MAX_ACTIONS, -1)
            pipe.expire(key, self.store.retention)
            await pipe.execute()
        language = as_language(agent.ui_language or "en")
        note = Event(kind=EventKind.NOTE, text=self.texts.text(f"agent_note_order_{record.kind.value}", language,
                                                                agent=agent.name or agent.agent_id,
                                                                order=record.order_id, amount=record.amount,
                                                                currency=record.currency, code=record.code,
                                                                address=record.address),
                     author="kesher", author_name="Kesher", data={"agent_action": record.to_json()})
        await self.store.add_event(conv.cid, note)
        await self.store.record(ServiceEventKind.AGENT_ACTION, conv, agent=agent.agent_id, reason=record.kind.value,
                                topic=record.order_id,
                                value=float(record.amount) if record.amount else None)
        return note

    async def taken(self, cid: str, reference: str) -> List[AgentActionRecord]:
        """The actions agents took in one handoff, oldest first (unreadable entries are skipped and logged)."""
        out: List[AgentActionRecord] = []
        for raw in await self.store.redis.lrange(self.store.keys.agent_actions(cid, reference), 0, -1):
            try:
                out.append(AgentActionRecord.from_json(json.loads(raw)))
            except (ValueError, KeyError, TypeError) as exc:
                log.warning("unreadable agent action of %s/%s skipped: %s", cid, reference, exc)
        return out
