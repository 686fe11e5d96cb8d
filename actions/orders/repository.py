"""Access to orders: an async interface and its SQLAlchemy implementation.

SQLAlchemy here is synchronous (SQLite and psycopg2 both block), so every call
runs in a worker thread and the action server's event loop never waits on disk
or network.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from abc import ABC, abstractmethod
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Awaitable, Callable, List, Optional, TypeVar

from sqlalchemy import Integer, create_engine, desc, event, func, or_, select, type_coerce, update
from sqlalchemy.engine import Engine
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.orm import Session, raiseload, sessionmaker

from actions.orders.domain import (
    CreditCheck,
    Order,
    OrderItem,
    ReturnCheck,
    ReturnRequest,
    StoreCredit,
    normalize_phone,
)
from actions.orders.models import Base, OrderEventRow, OrderRow, ReturnRow, StoreCreditRow
from core.errors import Conflict, KesherError, NotFound, Unavailable

__all__ = [
    "CreditNotAllowed",
    "OrderError",
    "OrderNotFound",
    "OrderRepository",
    "OrderStateConflict",
    "OrdersUnavailable",
    "ReturnNotAllowed",
    "SqlOrderRepository",
    "new_credit_code",
]

T = TypeVar("T")
OrderListener = Callable[[Order, str], Awaitable[Any]]
"""Called after an order's status changed in the store: ``(order, change)``, e.g. ``(order, "delayed")``."""

log = logging.getLogger(__name__)
_COLUMNS: Any = OrderRow.__table__.c  # typed columns (the model's attributes are annotated as plain values)
_OPEN = ("processing", "shipped", "delayed")  # statuses an order can still be late in


class OrderError(KesherError):
    """Base of every error the orders store raises."""


class OrderNotFound(OrderError, NotFound):
    """No order has that number."""


class OrderStateConflict(OrderError, Conflict):
    """The order's status no longer allows the change (e.g. it just shipped)."""


class OrdersUnavailable(OrderError, Unavailable):
    """The orders database cannot be reached now."""


class ReturnNotAllowed(OrderError, Conflict):
    """A return cannot start; ``check`` says why."""

    def __init__(self, check: ReturnCheck) -> None:
        super().__init__(check.value)
        self.check = check


class CreditNotAllowed(OrderError, Conflict):
    """Store credit of that amount cannot be issued on the order; ``check`` says why."""

    def __init__(self, check: CreditCheck, allowance: Decimal) -> None:
        super().__init__(check.value)
        self.check = check
        self.allowance = allowance


class OrderRepository(ABC):
    """What the actions may ask of the orders store."""

    @abstractmethod
    async def get(self, order_id: str) -> Optional[Order]:
        """Returns the order, or ``None`` if there is no such order."""

    @abstractmethod
    async def find_by_contact(self, email: str = "", phone: str = "") -> List[Order]:
        """Returns a customer's orders by e-mail or phone, newest first."""

    @abstractmethod
    async def change_address(self, order_id: str, address: str, now: datetime) -> Order:
        """Changes the delivery address of an order that has not shipped.

        Raises:
            OrderNotFound: No such order.
            OrderStateConflict: The order is no longer ``processing``.
        """

    @abstractmethod
    async def cancel(self, order_id: str, now: datetime) -> Order:
        """Cancels an order that has not shipped.

        Raises:
            OrderNotFound: No such order.
            OrderStateConflict: The order is no longer ``processing``.
        """

    @abstractmethod
    async def request_return(self, order_id: str, reason: str, now: datetime) -> ReturnRequest:
        """Opens a return for a delivered order inside the return window.

        Raises:
            OrderNotFound: No such order.
            ReturnNotAllowed: The order cannot be returned today.
        """

    @abstractmethod
    async def credit_issued(self, order_id: str) -> Decimal:
        """The store credit issued on an order so far (0 when none).

        Raises:
            OrdersUnavailable: The store cannot be reached now.
        """

    @abstractmethod
    async def issue_credit(
        self, order_id: str, amount: Decimal, *, agent_id: str, limit: Decimal, now: datetime
    ) -> StoreCredit:
        """Issues store credit on an order, within :meth:`Order.check_credit`'s rule, checked in one transaction.

        Raises:
            OrderNotFound: No such order.
            CreditNotAllowed: The amount is not positive, or over what the order may still get.
        """


_CODE_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"  # no digits: a code is never masked as a number, nor I/O misread


def new_credit_code() -> str:
    """A new, unguessable store-credit code, e.g. ``SC-KQWMT-RZHAB``."""
    letters = "".join(secrets.choice(_CODE_LETTERS) for _ in range(10))
    return f"SC-{letters[:5]}-{letters[5:]}"


def _order_from_row(row: OrderRow) -> Order:
    return Order(
        order_id=row.order_id,
        customer_name=row.customer_name,
        email=row.email,
        phone=row.phone,
        language=row.language,
        shipping_address=row.shipping_address,
        country=row.country,
        status=row.status,
        created_at=row.created_at,
        promised_delivery=row.promised_delivery,
        estimated_delivery=row.estimated_delivery,
        shipped_at=row.shipped_at,
        delivered_at=row.delivered_at,
        carrier=row.carrier,
        tracking_number=row.tracking_number,
        total=row.total,
        currency=row.currency,
        items=tuple(
            OrderItem(i.sku, i.name_en, i.name_he, i.quantity, i.unit_price) for i in row.items
        ),
    )


def make_engine(url: str) -> Engine:
    """Creates an engine; SQLite gets foreign keys and a busy timeout.

    Creating the engine opens no connection.
    """
    if url.startswith("sqlite"):
        engine = create_engine(url, future=True, connect_args={"timeout": 15})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
            cursor = dbapi_conn.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


class SqlOrderRepository(OrderRepository):
    """Orders in any database SQLAlchemy speaks to (SQLite, PostgreSQL)."""

    def __init__(self, engine: Engine) -> None:
        """Wraps an engine; no connection is opened here.

        Args:
            engine: From :func:`make_engine`.
        """
        self._engine = engine
        self._sessions = sessionmaker(bind=engine, future=True, expire_on_commit=False)
        self._credit_table_ready = False
        self._listeners: List[OrderListener] = []

    @classmethod
    def from_url(cls, url: str) -> SqlOrderRepository:
        """Builds a repository for a SQLAlchemy URL."""
        return cls(make_engine(url))

    @property
    def engine(self) -> Engine:
        """The underlying engine (the seed command and tests use it)."""
        return self._engine

    def create_schema(self) -> None:
        """Creates the tables if they do not exist (blocking; for set-up only)."""
        Base.metadata.create_all(self._engine)

    async def _run(self, fn: Callable[[Session], T]) -> T:
        def work() -> T:
            with self._sessions() as session, session.begin():
                return fn(session)

        try:
            return await asyncio.to_thread(work)
        except (OperationalError, InterfaceError) as exc:
            raise OrdersUnavailable(f"the orders database is unavailable: {type(exc).__name__}") from exc

    async def get(self, order_id: str) -> Optional[Order]:
        """See :meth:`OrderRepository.get`."""

        def work(session: Session) -> Optional[Order]:
            # An Order holds the items, not the returns: one query fewer than the mapping's default (and
            # reading the returns here would raise rather than find none).
            row = session.get(OrderRow, order_id, options=[raiseload(OrderRow.returns)])
            return _order_from_row(row) if row is not None else None

        return await self._run(work)

    async def find_by_contact(self, email: str = "", phone: str = "") -> List[Order]:
        """See :meth:`OrderRepository.find_by_contact`."""
        conditions = []
        if email:
            conditions.append(OrderRow.email == email.lower())
        local_phone = normalize_phone(phone) if phone else None
        if local_phone:
            conditions.append(OrderRow.phone == local_phone)
        if not conditions:
            return []

        def work(session: Session) -> List[Order]:
            rows = session.scalars(
                select(OrderRow).where(or_(*conditions)).order_by(desc(OrderRow.created_at))
            )
            return [_order_from_row(r) for r in rows]

        return await self._run(work)

    async def _transition(
        self, order_id: str, now: datetime, values: dict[str, Any], kind: str, detail: str
    ) -> Order:
        def work(session: Session) -> Order:
            # The WHERE on status makes the check and the change one atomic step:
            # an order that ships between our read and our write is not touched.
            result = session.execute(
                update(OrderRow)
                .where(OrderRow.order_id == order_id, OrderRow.status == "processing")
                .values(**values)
            )
            if result.rowcount != 1:
                if session.get(OrderRow, order_id) is None:
                    raise OrderNotFound(order_id)
                raise OrderStateConflict(order_id)
            session.add(OrderEventRow(order_id=order_id, at=now, kind=kind, detail=detail))
            session.flush()
            row = session.get(OrderRow, order_id)
            session.refresh(row)
            return _order_from_row(row)

        return await self._run(work)

    async def change_address(self, order_id: str, address: str, now: datetime) -> Order:
        """See :meth:`OrderRepository.change_address`."""
        return await self._transition(
            order_id, now, {"shipping_address": address}, "address_changed", address
        )

    async def cancel(self, order_id: str, now: datetime) -> Order:
        """See :meth:`OrderRepository.cancel`."""
        return await self._transition(
            order_id, now, {"status": "cancelled", "estimated_delivery": None}, "cancelled", ""
        )

    async def request_return(self, order_id: str, reason: str, now: datetime) -> ReturnRequest:
        """See :meth:`OrderRepository.request_return`."""

        def work(session: Session) -> ReturnRequest:
            row = session.get(OrderRow, order_id, with_for_update=True)
            if row is None:
                raise OrderNotFound(order_id)
            existing = session.scalars(
                select(ReturnRow).where(ReturnRow.order_id == order_id)
            ).first()
            if existing is not None:
                raise ReturnNotAllowed(ReturnCheck.RETURN_OPEN)
            check = _order_from_row(row).check_return(now.date())
            if check is not ReturnCheck.OK:
                raise ReturnNotAllowed(check)
            rma = f"R{order_id}-{secrets.token_hex(2).upper()}"
            session.add(ReturnRow(rma=rma, order_id=order_id, reason=reason, created_at=now))
            session.add(OrderEventRow(order_id=order_id, at=now, kind="return_requested", detail=reason))
            return ReturnRequest(rma=rma, order_id=order_id, reason=reason, created_at=now)

        return await self._run(work)

    def _credit_table(self, session: Session) -> None:
        # An orders database seeded before store credit existed lacks the table; it is made on first use.
        if not self._credit_table_ready:
            StoreCreditRow.__table__.create(session.connection(), checkfirst=True)
            self._credit_table_ready = True

    @staticmethod
    def _issued(session: Session, order_id: str) -> Decimal:
        cents = session.scalar(
            select(func.coalesce(func.sum(type_coerce(StoreCreditRow.amount, Integer)), 0)).where(
                StoreCreditRow.order_id == order_id
            )
        )
        return (Decimal(int(cents or 0)) / 100).quantize(Decimal("0.01"))

    async def credit_issued(self, order_id: str) -> Decimal:
        """See :meth:`OrderRepository.credit_issued`."""

        def work(session: Session) -> Decimal:
            self._credit_table(session)
            return self._issued(session, order_id)

        return await self._run(work)

    async def issue_credit(
        self, order_id: str, amount: Decimal, *, agent_id: str, limit: Decimal, now: datetime
    ) -> StoreCredit:
        """See :meth:`OrderRepository.issue_credit`."""

        def work(session: Session) -> StoreCredit:
            self._credit_table(session)
            # A write to the order's row first: it takes PostgreSQL's row lock and SQLite's write lock (whose
            # reads otherwise run outside any transaction), so two agents cannot both spend one allowance.
            touched = session.execute(
                update(OrderRow).where(OrderRow.order_id == order_id).values(order_id=OrderRow.order_id)
            )
            row = session.get(OrderRow, order_id) if touched.rowcount == 1 else None
            if row is None:
                raise OrderNotFound(order_id)
            order = _order_from_row(row)
            issued = self._issued(session, order_id)
            check = order.check_credit(amount, issued, limit)
            if check is not CreditCheck.OK:
                raise CreditNotAllowed(check, order.credit_allowance(issued, limit))
            code = new_credit_code()
            session.add(StoreCreditRow(code=code, order_id=order_id, amount=amount, currency=order.currency,
                                       agent_id=agent_id, issued_at=now))
            session.add(OrderEventRow(order_id=order_id, at=now, kind="store_credit",
                                      detail=f"{amount} {order.currency} {code} by {agent_id}"))
            return StoreCredit(code=code, order_id=order_id, amount=amount, currency=order.currency,
                               agent_id=agent_id, issued_at=now)

        return await self._run(work)

    # -- late orders (#17: proactive notices) ------------------------------------------------
    def add_listener(self, listener: OrderListener) -> None:
        """Calls ``listener(order, change)`` after each status change this store makes (e.g. ``delayed``)."""
        self._listeners.append(listener)

    async def _changed(self, order: Order, change: str) -> None:
        for listener in self._listeners:
            try:
                await listener(order, change)
            except Exception:  # a listener's failure must not undo or fail a committed change
                log.exception("order %s: listener of %s failed", order.order_id, change)

    async def mark_delayed(self, order_id: str, estimate: date, now: datetime) -> Order:
        """Marks an open order ``delayed`` with a new estimated delivery date; listeners are told.

        Raises:
            OrderNotFound: No such order.
            OrderStateConflict: The order is delivered, cancelled or returned.
        """

        def work(session: Session) -> Order:
            result = session.execute(
                update(OrderRow)
                .where(OrderRow.order_id == order_id, OrderRow.status.in_(_OPEN))  # type: ignore[attr-defined]
                .values(status="delayed", estimated_delivery=estimate)
            )
            if result.rowcount != 1:
                if session.get(OrderRow, order_id) is None:
                    raise OrderNotFound(order_id)
                raise OrderStateConflict(order_id)
            session.add(OrderEventRow(order_id=order_id, at=now, kind="delayed", detail=estimate.isoformat()))
            session.flush()
            row = session.get(OrderRow, order_id)
            session.refresh(row)
            return _order_from_row(row)

        order = await self._run(work)
        await self._changed(order, "delayed")
        return order

    async def find_late(self, today: date) -> List[Order]:
        """Every open order that is delayed, past its promised date, or estimated after it."""

        def work(session: Session) -> List[Order]:
            c = _COLUMNS
            rows = session.scalars(
                select(OrderRow).where(
                    c.status.in_(_OPEN),
                    or_(c.status == "delayed", c.promised_delivery < today,
                        c.estimated_delivery > c.promised_delivery),
                ).order_by(c.order_id)
            )
            return [_order_from_row(r) for r in rows]

        return await self._run(work)
