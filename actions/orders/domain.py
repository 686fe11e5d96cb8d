"""What an order is to the bot: plain values and the store's rules about them.

The actions never see SQLAlchemy rows; repositories return these frozen views,
so a rule ("only before shipping", "30 days after delivery") lives here once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Optional, Tuple

__all__ = [
    "ORDER_ID_PATTERN",
    "RETURN_WINDOW_DAYS",
    "CreditCheck",
    "Order",
    "OrderItem",
    "ReturnCheck",
    "ReturnRequest",
    "StoreCredit",
    "contact_matches",
    "normalize_email",
    "normalize_order_id",
    "normalize_phone",
]

RETURN_WINDOW_DAYS = 30
ORDER_ID_PATTERN = re.compile(r"(?<!\d)([1-9]\d{5})(?!\d)")
_EMAIL = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")


@dataclass(frozen=True)
class OrderItem:
    """One line of an order."""

    sku: str
    name_en: str
    name_he: str
    quantity: int
    unit_price: Decimal

    def name(self, language: str) -> str:
        """The product name in the customer's language."""
        return self.name_he if language == "he" else self.name_en


class ReturnCheck(StrEnum):
    """Why a return can or cannot start."""

    OK = "ok"
    NOT_DELIVERED = "not_delivered"
    WINDOW_PASSED = "window_passed"
    ALREADY_RETURNED = "already_returned"
    RETURN_OPEN = "open"
    CANCELLED = "cancelled"


class CreditCheck(StrEnum):
    """Whether store credit of some amount may be issued on an order, and if not, why."""

    OK = "ok"
    NOT_POSITIVE = "not_positive"
    TOO_PRECISE = "too_precise"
    OVER_LIMIT = "over_limit"


@dataclass(frozen=True)
class Order:
    """An order as the bot may talk about it."""

    order_id: str
    customer_name: str
    email: str
    phone: str
    language: str
    shipping_address: str
    country: str
    status: str
    created_at: datetime
    promised_delivery: date
    estimated_delivery: Optional[date]
    shipped_at: Optional[datetime]
    delivered_at: Optional[datetime]
    carrier: Optional[str]
    tracking_number: Optional[str]
    total: Decimal
    currency: str
    items: Tuple[OrderItem, ...]

    @property
    def first_name(self) -> str:
        """The customer's first name, for a friendly greeting."""
        return self.customer_name.split()[0] if self.customer_name else ""

    @property
    def is_shipped(self) -> bool:
        """Whether the order has left the warehouse (or is finished)."""
        return self.status != "processing"

    def can_change_address(self) -> bool:
        """The delivery address can change only before shipping."""
        return self.status == "processing"

    def can_cancel(self) -> bool:
        """An order can be cancelled only before shipping."""
        return self.status == "processing"

    def credit_allowance(self, issued: Decimal, limit: Decimal) -> Decimal:
        """How much more store credit this order may get: at most ``limit`` and the order's total, in all.

        Args:
            issued: Store credit already issued on this order.
            limit: The most one order may get (``KESHER_STORE_CREDIT_LIMIT``).
        """
        return max(Decimal("0.00"), min(limit, self.total) - issued).quantize(Decimal("0.01"))

    def check_credit(self, amount: Decimal, issued: Decimal, limit: Decimal) -> CreditCheck:
        """Whether store credit of ``amount`` (in the order's currency) may be issued on top of ``issued``."""
        if amount <= 0:
            return CreditCheck.NOT_POSITIVE
        if amount != amount.quantize(Decimal("0.01")):
            return CreditCheck.TOO_PRECISE
        if amount > self.credit_allowance(issued, limit):
            return CreditCheck.OVER_LIMIT
        return CreditCheck.OK

    def return_deadline(self) -> Optional[date]:
        """Last day a return can start, if the order was delivered."""
        if self.delivered_at is None:
            return None
        return self.delivered_at.date() + timedelta(days=RETURN_WINDOW_DAYS)

    def check_return(self, today: date) -> ReturnCheck:
        """Whether a return can start today, and if not, why."""
        if self.status == "returned":
            return ReturnCheck.ALREADY_RETURNED
        if self.status == "cancelled":
            return ReturnCheck.CANCELLED
        deadline = self.return_deadline()
        if self.status != "delivered" or deadline is None:
            return ReturnCheck.NOT_DELIVERED
        if today > deadline:
            return ReturnCheck.WINDOW_PASSED
        return ReturnCheck.OK

    def is_late(self, today: date) -> bool:
        """Whether the order missed the delivery date promised at checkout."""
        if self.status == "delayed":
            return True
        if self.status in ("processing", "shipped"):
            return today > self.promised_delivery
        return False

    def item_summary(self, language: str) -> str:
        """A short list of what was ordered, e.g. ``"2 × Kettle, Toaster"``."""
        parts = [
            f"{item.quantity} × {item.name(language)}" if item.quantity > 1 else item.name(language)
            for item in self.items
        ]
        return ", ".join(parts)


@dataclass(frozen=True)
class ReturnRequest:
    """A return that was opened."""

    rma: str
    order_id: str
    reason: str
    created_at: datetime


@dataclass(frozen=True)
class StoreCredit:
    """Store credit an agent issued: a code the customer spends in the shop (not money back to a card)."""

    code: str
    order_id: str
    amount: Decimal
    currency: str
    agent_id: str
    issued_at: datetime


def normalize_order_id(text: str) -> Optional[str]:
    """Finds a well-formed order number in what the customer typed.

    Args:
        text: e.g. ``"#104233"``, ``"order 104233"``, ``"ההזמנה 104233"``.

    Returns:
        The six digits, or ``None`` when there is not exactly one order number.
    """
    found = ORDER_ID_PATTERN.findall(text or "")
    return found[0] if len(set(found)) == 1 else None


def normalize_email(text: str) -> Optional[str]:
    """Lower-cases an e-mail address; ``None`` if it is not one."""
    candidate = (text or "").strip().strip(".,;<>").lower()
    return candidate if _EMAIL.match(candidate) else None


def normalize_phone(text: str) -> Optional[str]:
    """Turns an Israeli phone number into its local form, digits only.

    ``+972 50-555-1234``, ``972505551234`` and ``050 5551234`` all become
    ``0505551234``. Returns ``None`` if it is not 9–10 digits once normalised.
    """
    digits = re.sub(r"\D", "", text or "")
    if digits.startswith("972"):
        digits = "0" + digits[3:]
    return digits if digits.startswith("0") and 9 <= len(digits) <= 10 else None


def contact_matches(order: Order, supplied: str) -> bool:
    """Whether the e-mail or phone a customer gave is the one on the order."""
    email = normalize_email(supplied)
    if email is not None:
        return email == order.email.lower()
    phone = normalize_phone(supplied)
    return phone is not None and phone == normalize_phone(order.phone)
