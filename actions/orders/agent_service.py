"""What an agent may do to a customer's orders from the console, under the same rules as the bot.

The agent console's customer panel cancels an order, changes its delivery
address or issues store credit through :class:`AgentOrderActions`. The rules
are the store's own (:class:`actions.orders.domain.Order`: only before
shipping; store credit within ``KESHER_STORE_CREDIT_LIMIT`` per order and never
more than its total), checked once for the confirmation step (``preview``) and
again inside the database write (``perform``), exactly as ``action_order_task``
does for the bot. Who may act: the agent holding the conversation, or a
supervisor, while the conversation is with a person; and only on an order of
the conversation's verified customer (its e-mail or phone). Each action done is
audited by :class:`handoff.agent_actions.AgentActionLog` (the list the closing
e-mail reads, a timeline note, an ``agent_action`` service event) and confirmed
to the customer at once by the same e-mail the bot's changes send
(:meth:`handoff.mail.orders.OrderMail.confirm_change`: to the order's own
address, in the conversation's language).

Refusals are :mod:`core.errors` errors naming a ``console_order_action_*``
text, so the console shows them in the agent's language.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Dict, List, Optional

from babel.numbers import format_currency

from actions.orders.domain import CreditCheck, Order, normalize_email, normalize_phone
from actions.orders.repository import CreditNotAllowed, OrderRepository, OrderStateConflict
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from core.language import LOCALES, as_language
from handoff.agent_actions import AgentActionKind, AgentActionLog, AgentActionRecord
from handoff.mail.compose import agent_action_line
from handoff.mail.orders import OrderMail
from handoff.models import Agent, Conversation, ConversationState
from handoff.state import HandoffStore

__all__ = ["MAX_ADDRESS_CHARS", "PREVIEWS", "ActionRequest", "AgentOrderActions", "Said", "parse_amount"]

log = logging.getLogger(__name__)

MAX_ADDRESS_CHARS = 300
MAX_AMOUNT = Decimal(10_000_000)  # far above any limit; keeps Decimal's arithmetic in range
PREVIEWS = {  # what the confirmation step says each action will do
    AgentActionKind.CANCEL_ORDER: "console_order_action_preview_cancel_order",
    AgentActionKind.CHANGE_ADDRESS: "console_order_action_preview_change_address",
    AgentActionKind.STORE_CREDIT: "console_order_action_preview_store_credit",
}


@dataclass(frozen=True)
class Said:
    """A catalog text and its values, for the console to show in the agent's language.

    An order's ``status`` goes as its code ("returned"); the console names it in the agent's language
    (``console.web.with_names``: the catalog's ``status_<code>``).
    """

    key: str
    values: Dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class ActionRequest:
    """What the agent asked for.

    Attributes:
        kind: The action.
        order_id: The order.
        address: The new delivery address (``change_address``).
        amount: The store credit (``store_credit``), in the order's currency.
    """

    kind: AgentActionKind
    order_id: str
    address: str = ""
    amount: Optional[Decimal] = None


def parse_amount(value: Any) -> Decimal:
    """An amount of money as an agent typed it (``50``, ``49.90``); at most two decimals.

    Raises:
        InvalidInput: Not a positive amount with at most two decimals.
    """
    text = str(value if value is not None else "").strip().replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        raise InvalidInput(f"amount {text[:20]!r} is not a number",
                           text="console_order_action_error_amount") from None
    if not amount.is_finite() or not 0 < amount <= MAX_AMOUNT or amount != amount.quantize(Decimal("0.01")):
        raise InvalidInput(f"amount {text[:20]!r} is not a positive amount with at most two decimals",
                           text="console_order_action_error_amount")
    return amount.quantize(Decimal("0.01"))


def _owns(conv: Conversation, order: Order) -> bool:
    """Whether the order is the conversation's verified customer's (its e-mail or phone)."""
    email = normalize_email(conv.email) if conv.email else None
    if email is not None and email == order.email.lower():
        return True
    phone = normalize_phone(conv.phone) if conv.phone else None
    return phone is not None and phone == normalize_phone(order.phone)


class AgentOrderActions:
    """Agents' actions on orders: checked, done under the store's rules, audited."""

    def __init__(
        self,
        orders: OrderRepository,
        store: HandoffStore,
        audit: AgentActionLog,
        *,
        credit_limit: Decimal,
        mail: Optional[OrderMail] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Keeps its collaborators; opens nothing.

        Args:
            orders: The orders store (its rules are checked inside each write).
            store: The handoff state (who holds the conversation).
            audit: Where each action done is recorded (its texts word the store credit's confirmation).
            credit_limit: The most store credit one order may get (``KESHER_STORE_CREDIT_LIMIT``).
            mail: Where each action done is confirmed to the customer by e-mail (None: no e-mail).
            clock: Epoch seconds.
        """
        self.orders = orders
        self.store = store
        self.audit = audit
        self.credit_limit = credit_limit
        self.mail = mail
        self.clock = clock

    # -- who may act, on what ---------------------------------------------------------
    async def _conversation(self, cid: str, agent: Agent) -> Conversation:
        conv = await self.store.get(cid)
        if conv is None:
            raise NotFound(f"no handoff conversation {cid!r}", text="desk_error_no_conversation")
        holds = conv.state is ConversationState.WITH_AGENT and conv.agent_id == agent.agent_id
        if not holds and agent.role != "supervisor":
            raise NotAllowed(f"{agent.agent_id} does not hold conversation {cid}",
                             text="console_order_action_error_not_allowed")
        if not conv.in_handoff:
            raise Conflict(f"conversation {cid} is {conv.state.value}",
                           text="console_order_action_error_not_in_handoff")
        return conv

    async def _order(self, conv: Conversation, order_id: str) -> Order:
        # No verified contact, or not an order number: nothing to look up.
        wanted = (conv.email or conv.phone) and order_id.isdigit() and len(order_id) <= 12
        order = await self.orders.get(order_id) if wanted else None
        if order is None or not _owns(conv, order):
            # Someone else's order and no order at all get the same answer.
            raise NotFound(f"order {order_id[:20]!r} is not one of this customer's",
                           text="console_order_action_error_no_order", order=order_id[:20])
        return order

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self.clock())

    # -- the rules, as the confirmation step shows them ------------------------------------
    def _refusal(self, order: Order, request: ActionRequest, issued: Decimal) -> Optional[Said]:
        """Why the store's rules refuse the request (None: they allow it)."""
        if request.kind is AgentActionKind.CANCEL_ORDER and not order.can_cancel():
            return Said("console_order_action_error_cannot_cancel",
                        {"order": order.order_id, "status": order.status})
        if request.kind is AgentActionKind.CHANGE_ADDRESS and not order.can_change_address():
            return Said("console_order_action_error_cannot_change_address",
                        {"order": order.order_id, "status": order.status})
        if request.kind is AgentActionKind.STORE_CREDIT and request.amount is not None:
            check = order.check_credit(request.amount, issued, self.credit_limit)
            if check is not CreditCheck.OK:
                return self._credit_refusal(order, order.credit_allowance(issued, self.credit_limit))
        return None

    def _credit_refusal(self, order: Order, allowance: Decimal) -> Said:
        return Said("console_order_action_error_credit_over",
                    {"order": order.order_id, "allowance": str(allowance), "currency": order.currency,
                     "limit": str(self.credit_limit)})

    async def options(self, cid: str, agent: Agent) -> List[Dict[str, Any]]:
        """The customer's orders, each with what the agent may do to it now and, if not, why not.

        Raises:
            NotAllowed: The agent neither holds the conversation nor is a supervisor.
            core.errors.Unavailable: The orders store cannot be reached.
        """
        conv = await self._conversation(cid, agent)
        if not conv.email and not conv.phone:
            return []
        found = await self.orders.find_by_contact(email=conv.email, phone=conv.phone)
        out: List[Dict[str, Any]] = []
        for order in found:
            issued = await self.orders.credit_issued(order.order_id)
            allowance = order.credit_allowance(issued, self.credit_limit)
            refusals = {
                kind: self._refusal(order, ActionRequest(kind, order.order_id), issued)
                for kind in (AgentActionKind.CANCEL_ORDER, AgentActionKind.CHANGE_ADDRESS)
            }
            refusals[AgentActionKind.STORE_CREDIT] = None if allowance > 0 else self._credit_refusal(order, allowance)
            out.append({
                "order_id": order.order_id, "status": order.status, "total": str(order.total),
                "currency": order.currency, "address": order.shipping_address,
                "credit_issued": str(issued), "credit_allowance": str(allowance),
                "actions": {kind.value: refusal for kind, refusal in refusals.items()},
            })
        return out

    async def _checked(
        self, cid: str, agent: Agent, request: ActionRequest
    ) -> tuple[Conversation, Order, ActionRequest, Decimal]:
        conv = await self._conversation(cid, agent)
        order = await self._order(conv, request.order_id)
        request = self._complete(request)
        issued = await self.orders.credit_issued(order.order_id)
        refusal = self._refusal(order, request, issued)
        if refusal is not None:
            raise Conflict(f"refused: {refusal.key}", text=refusal.key, **refusal.values)
        return conv, order, request, issued

    async def preview(self, cid: str, agent: Agent, request: ActionRequest) -> Said:
        """What the action would do, for the confirmation step; nothing is changed.

        Raises:
            NotAllowed: The agent neither holds the conversation nor is a supervisor.
            NotFound: The order is not the verified customer's.
            InvalidInput: A missing or malformed address or amount.
            Conflict: The store's rules refuse it (the message says why).
        """
        _, order, request, issued = await self._checked(cid, agent, request)
        values: Dict[str, Any] = {"order": order.order_id, "total": str(order.total), "currency": order.currency}
        if request.kind is AgentActionKind.CHANGE_ADDRESS:
            values.update(old=order.shipping_address, address=request.address)
        if request.kind is AgentActionKind.STORE_CREDIT:
            assert request.amount is not None  # _complete checked it
            left = order.credit_allowance(issued + request.amount, self.credit_limit)
            values.update(amount=str(request.amount), left=str(left))
        return Said("console_order_action_preview_" + request.kind.value, values)

    @staticmethod
    def _complete(request: ActionRequest) -> ActionRequest:
        if request.kind is AgentActionKind.CHANGE_ADDRESS:
            address = " ".join(request.address.split())
            if not address or len(address) > MAX_ADDRESS_CHARS:
                raise InvalidInput("write the new delivery address", text="console_order_action_error_address",
                                   count=MAX_ADDRESS_CHARS)
            return ActionRequest(request.kind, request.order_id, address=address)
        if request.kind is AgentActionKind.STORE_CREDIT and request.amount is None:
            raise InvalidInput("write the amount of store credit", text="console_order_action_error_amount")
        return request

    # -- doing it --------------------------------------------------------------------------
    async def perform(self, cid: str, agent: Agent, request: ActionRequest) -> AgentActionRecord:
        """Does the action under the store's rules (checked again inside the write), then audits it.

        Raises:
            NotAllowed: The agent neither holds the conversation nor is a supervisor.
            NotFound: The order is not the verified customer's.
            InvalidInput: A missing or malformed address or amount.
            Conflict: The store's rules refuse it (e.g. the order has shipped meanwhile).
            core.errors.Unavailable: The orders store cannot be reached.
        """
        conv, order, request, _ = await self._checked(cid, agent, request)
        now = self._now()
        record = AgentActionRecord(kind=request.kind, order_id=order.order_id, agent_id=agent.agent_id,
                                   agent_name=agent.name, at=self.clock())
        try:
            if request.kind is AgentActionKind.CANCEL_ORDER:
                await self.orders.cancel(order.order_id, now)
            elif request.kind is AgentActionKind.CHANGE_ADDRESS:
                changed = await self.orders.change_address(order.order_id, request.address, now)
                record = replace(record, address=changed.shipping_address)
            else:
                assert request.amount is not None  # _complete checked it
                credit = await self.orders.issue_credit(order.order_id, request.amount, agent_id=agent.agent_id,
                                                        limit=self.credit_limit, now=now)
                record = replace(record, amount=str(credit.amount), currency=credit.currency, code=credit.code)
        except OrderStateConflict:
            fresh = await self.orders.get(order.order_id) or order
            key = ("console_order_action_error_cannot_cancel" if request.kind is AgentActionKind.CANCEL_ORDER
                   else "console_order_action_error_cannot_change_address")
            raise Conflict(f"order {order.order_id} is {fresh.status}", text=key,
                           order=order.order_id, status=fresh.status) from None
        except CreditNotAllowed as exc:
            said = self._credit_refusal(order, exc.allowance)
            raise Conflict(f"store credit refused: {exc.check.value}", text=said.key, **said.values) from None
        await self.audit.add(conv, agent, record)
        await self._confirm_by_mail(conv, order, record)
        return record

    async def _confirm_by_mail(self, conv: Conversation, order: Order, record: AgentActionRecord) -> None:
        """Queues the e-mail confirming the action, as the bot's changes are confirmed; never fails the action.

        It goes to the order's own address (the mail worker re-reads the order first), in the conversation's
        language: a cancellation and an address change in the bot's own wording, store credit as the closing
        e-mail words it (the code, and that it is not a refund to the card).
        """
        if self.mail is None:
            return
        language = as_language(conv.language)
        try:
            if record.kind is AgentActionKind.CANCEL_ORDER:
                total = format_currency(order.total, order.currency, locale=LOCALES[language])
                await self.mail.confirm_change(order.order_id, "cancelled", language=language, cid=conv.cid,
                                               details={"total": total})
            elif record.kind is AgentActionKind.CHANGE_ADDRESS:
                await self.mail.confirm_change(order.order_id, "address_changed", language=language, cid=conv.cid,
                                               address=record.address)
            else:
                await self.mail.confirm_change(
                    order.order_id, "store_credit", language=language, cid=conv.cid, key=record.code,
                    details={"summary": agent_action_line(record, language, self.audit.texts)})
        except Exception:  # the order did change, and the audit says so: the closing e-mail still lists it
            log.exception("order %s: the confirmation e-mail of %s could not be queued", order.order_id,
                          record.kind.value)
