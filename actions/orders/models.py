"""SQLAlchemy tables of the orders database (SQLite locally, PostgreSQL in production)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import List, Optional

from sqlalchemy import (
    Column,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import declarative_base, relationship
from sqlalchemy.types import TypeDecorator

__all__ = ["STATUSES", "Base", "OrderEventRow", "OrderItemRow", "OrderRow", "ReturnRow", "StoreCreditRow"]

Base = declarative_base()


class Money(TypeDecorator):
    """An amount stored as whole agorot (cents), read back as a ``Decimal``.

    SQLite has no exact decimal type; integers are exact everywhere.
    """

    impl = Integer
    cache_ok = True

    def process_bind_param(self, value: Optional[Decimal], dialect: Dialect) -> Optional[int]:
        return None if value is None else int((Decimal(value) * 100).to_integral_value())

    def process_result_value(self, value: Optional[int], dialect: Dialect) -> Optional[Decimal]:
        return None if value is None else (Decimal(value) / 100).quantize(Decimal("0.01"))

STATUSES = ("processing", "shipped", "delayed", "delivered", "cancelled", "returned")


class OrderRow(Base):  # type: ignore[valid-type,misc]
    """One customer order."""

    __tablename__ = "orders"

    order_id: str = Column(String(12), primary_key=True)
    customer_name: str = Column(String(120), nullable=False)
    email: str = Column(String(254), nullable=False, index=True)
    phone: str = Column(String(32), nullable=False, index=True)
    language: str = Column(String(2), nullable=False, default="he")
    shipping_address: str = Column(Text, nullable=False)
    country: str = Column(String(2), nullable=False, default="IL")
    status: str = Column(String(16), nullable=False, index=True)
    created_at: datetime = Column(DateTime, nullable=False)
    promised_delivery: date = Column(Date, nullable=False)
    estimated_delivery: Optional[date] = Column(Date, nullable=True)
    shipped_at: Optional[datetime] = Column(DateTime, nullable=True)
    delivered_at: Optional[datetime] = Column(DateTime, nullable=True)
    carrier: Optional[str] = Column(String(40), nullable=True)
    tracking_number: Optional[str] = Column(String(40), nullable=True)
    total: Decimal = Column(Money, nullable=False)
    currency: str = Column(String(3), nullable=False, default="ILS")

    items: List[OrderItemRow] = relationship(
        "OrderItemRow", back_populates="order", cascade="all, delete-orphan", lazy="selectin"
    )
    returns: List[ReturnRow] = relationship(
        "ReturnRow", back_populates="order", cascade="all, delete-orphan", lazy="selectin"
    )


class OrderItemRow(Base):  # type: ignore[valid-type,misc]
    """A line of an order."""

    __tablename__ = "order_items"

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    order_id: str = Column(ForeignKey("orders.order_id"), nullable=False, index=True)
    sku: str = Column(String(32), nullable=False)
    name_en: str = Column(String(120), nullable=False)
    name_he: str = Column(String(120), nullable=False)
    quantity: int = Column(Integer, nullable=False)
    unit_price: Decimal = Column(Money, nullable=False)

    order: OrderRow = relationship("OrderRow", back_populates="items")


class ReturnRow(Base):  # type: ignore[valid-type,misc]
    """A return the customer asked for (an RMA)."""

    __tablename__ = "returns"

    rma: str = Column(String(16), primary_key=True)
    order_id: str = Column(ForeignKey("orders.order_id"), nullable=False, index=True)
    reason: str = Column(Text, nullable=False)
    created_at: datetime = Column(DateTime, nullable=False)

    order: OrderRow = relationship("OrderRow", back_populates="returns")


class OrderEventRow(Base):  # type: ignore[valid-type,misc]
    """What the bot changed on an order, for the agents and the audit trail."""

    __tablename__ = "order_events"

    id: int = Column(Integer, primary_key=True, autoincrement=True)
    order_id: str = Column(ForeignKey("orders.order_id"), nullable=False, index=True)
    at: datetime = Column(DateTime, nullable=False)
    kind: str = Column(String(32), nullable=False)
    detail: str = Column(Text, nullable=False, default="")


class StoreCreditRow(Base):  # type: ignore[valid-type,misc]
    """Store credit an agent issued on an order (a code to spend in the shop, never a card refund)."""

    __tablename__ = "store_credits"

    code: str = Column(String(24), primary_key=True)
    order_id: str = Column(ForeignKey("orders.order_id"), nullable=False, index=True)
    amount: Decimal = Column(Money, nullable=False)
    currency: str = Column(String(3), nullable=False)
    agent_id: str = Column(String(64), nullable=False)
    issued_at: datetime = Column(DateTime, nullable=False)
