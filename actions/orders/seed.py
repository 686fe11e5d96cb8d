"""A deterministic set of demo orders, dated relative to the day of seeding.

The same ``today`` and ``seed`` always give the same orders, so tests can seed a
fixed day; ``make up`` seeds today, so "delivered 5 days ago" stays true for the
demo. Names, places and products come from ``data/seed/*.yml``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, Dict, List, Sequence, Tuple

import yaml
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from actions.orders.models import Base, OrderItemRow, OrderRow, ReturnRow

__all__ = ["SEED_DIR", "STATUS_WEIGHTS", "generate_orders", "seed_database"]

SEED_DIR = Path(__file__).resolve().parents[2] / "data" / "seed"
DEFAULT_SEED = 5786

STATUS_WEIGHTS: Dict[str, int] = {
    "processing": 15,
    "shipped": 20,
    "delayed": 10,
    "delivered": 40,
    "cancelled": 7,
    "returned": 8,
}
FREE_SHIPPING_FROM = Decimal("299")
SHIPPING_FEE = Decimal("29.90")
RETURN_REASONS = (
    "Changed my mind",
    "Arrived damaged",
    "Wrong size",
    "Not as described",
    "Ordered by mistake",
)


def _load(name: str) -> Any:
    with open(SEED_DIR / name, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def add_business_days(start: date, days: int) -> date:
    """Adds Israeli business days (Sunday–Thursday) to a date."""
    current = start
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() not in (4, 5):  # Friday, Saturday
            added += 1
    return current


@dataclass(frozen=True)
class _Customer:
    name: str
    email: str
    phone: str
    language: str
    address: str
    country: str


class _Generator:
    def __init__(self, today: date, seed: int) -> None:
        self.today = today
        self.rng = random.Random(seed)
        self.people = _load("people.yml")
        self.products: List[Dict[str, Any]] = _load("catalog.yml")["products"]
        self._emails: set[str] = set()
        self._phones: set[str] = set()

    def _unique_email(self, local: str) -> str:
        domain = self.rng.choice(["example.com", "example.org", "example.net"])
        email = f"{local}@{domain}"
        n = 2
        while email in self._emails:
            email = f"{local}{n}@{domain}"
            n += 1
        self._emails.add(email)
        return email

    def _unique_phone(self) -> str:
        while True:
            phone = f"05{self.rng.choice('0234578')}555{self.rng.randint(0, 9999):04d}"
            if phone not in self._phones:
                self._phones.add(phone)
                return phone

    def customer(self) -> _Customer:
        rng = self.rng
        if rng.random() < 0.6:
            he = self.people["hebrew"]
            (first, first_lat), (last, last_lat) = rng.choice(he["first_names"]), rng.choice(he["last_names"])
            city, streets = rng.choice(he["cities"])
            address = f"{rng.choice(streets)} {rng.randint(1, 180)}, {city}"
            return _Customer(
                f"{first} {last}",
                self._unique_email(f"{first_lat}.{last_lat}"),
                self._unique_phone(),
                "he",
                address,
                "IL",
            )
        en = self.people["english"]
        first, last = rng.choice(en["first_names"]), rng.choice(en["last_names"])
        if rng.random() < 0.2:
            country, place, streets = rng.choice(en["abroad"])
            address = f"{rng.randint(1, 250)} {rng.choice(streets)}, {place}"
        else:
            country = "IL"
            city, streets = rng.choice(en["israel"])
            address = f"{rng.randint(1, 120)} {rng.choice(streets)}, {city}"
        return _Customer(
            f"{first} {last}",
            self._unique_email(f"{first.lower()}.{last.lower()}"),
            self._unique_phone(),
            "en",
            address,
            country,
        )

    def items(self, abroad: bool) -> List[Tuple[Dict[str, Any], int]]:
        pool = [p for p in self.products if p.get("abroad", True)] if abroad else self.products
        count = self.rng.choices([1, 2, 3], weights=[60, 30, 10])[0]
        chosen = self.rng.sample(pool, count)
        return [(p, self.rng.choices([1, 2], weights=[85, 15])[0]) for p in chosen]

    def _at(self, day: date) -> datetime:
        # Today's events happened early in the morning, so none lies in the future.
        hour = self.rng.randint(7, 9) if day >= self.today else self.rng.randint(8, 21)
        return datetime.combine(day, time(hour, self.rng.randint(0, 59)))

    def dates(self, status: str) -> Dict[str, Any]:
        rng, today = self.rng, self.today
        if status == "processing":
            created = today - timedelta(days=rng.randint(0, 1))
            promised = add_business_days(created, rng.randint(3, 5))
            return {"created": created, "promised": promised, "estimated": promised}
        if status == "shipped":
            created = today - timedelta(days=rng.randint(1, 3))
            promised = max(add_business_days(created, 5), today)
            return {
                "created": created,
                "shipped": created + timedelta(days=1),
                "promised": promised,
                "estimated": promised,
            }
        if status == "delayed":
            created = today - timedelta(days=rng.randint(10, 20))
            return {
                "created": created,
                "shipped": created + timedelta(days=1),
                "promised": add_business_days(created, 5),
                "estimated": add_business_days(today, rng.randint(2, 4)),
            }
        if status == "cancelled":
            created = today - timedelta(days=rng.randint(3, 40))
            return {"created": created, "promised": add_business_days(created, 5), "estimated": None}
        # delivered / returned
        created = today - timedelta(days=rng.randint(6, 70) if status == "returned" else rng.randint(5, 60))
        shipped = created + timedelta(days=1)
        delivered = min(add_business_days(shipped, rng.randint(2, 4)), today - timedelta(days=1))
        return {
            "created": created,
            "shipped": shipped,
            "delivered": delivered,
            "promised": add_business_days(created, 5),
            "estimated": delivered,
        }


def _tracking(rng: random.Random, carrier: str) -> str:
    if carrier == "Israel Post":
        return f"RR{rng.randint(10**8, 10**9 - 1)}IL"
    if carrier == "DHL Express":
        return f"{rng.randint(10**9, 10**10 - 1)}"
    prefix = "HFD" if carrier.startswith("HFD") else "CH"
    return f"{prefix}{rng.randint(10**9, 10**10 - 1)}"


def generate_orders(today: date, count: int = 240, seed: int = DEFAULT_SEED) -> List[OrderRow]:
    """Builds ``count`` demo orders (with items and returns), not yet saved.

    Args:
        today: The day the orders are relative to.
        count: How many orders.
        seed: Random seed; the same arguments give the same orders.

    Returns:
        Order rows with their items (and, for returned orders, their return).
    """
    gen = _Generator(today, seed)
    rng = gen.rng
    carriers = gen.people["carriers"]
    # About a third of customers order more than once.
    customers = [gen.customer() for _ in range(max(1, int(count * 0.65)))]
    statuses: Sequence[str] = rng.choices(
        list(STATUS_WEIGHTS), weights=list(STATUS_WEIGHTS.values()), k=count
    )
    drafts = []
    for status in statuses:
        customer = rng.choice(customers)
        drafts.append((gen.dates(status), status, customer))
    drafts.sort(key=lambda d: d[0]["created"])

    rows: List[OrderRow] = []
    next_id = rng.randint(104000, 105000)
    for dates, status, customer in drafts:
        next_id += rng.randint(1, 40)
        order_id = str(next_id)
        abroad = customer.country != "IL"
        lines = gen.items(abroad)
        subtotal = sum((Decimal(str(p["price"])) * qty for p, qty in lines), Decimal("0"))
        shipping = Decimal("0") if subtotal >= FREE_SHIPPING_FROM or abroad else SHIPPING_FEE
        carrier = None
        tracking = None
        if "shipped" in dates:
            carrier = rng.choice(carriers["abroad"] if abroad else carriers["israel"])
            tracking = _tracking(rng, carrier)
        row = OrderRow(
            order_id=order_id,
            customer_name=customer.name,
            email=customer.email,
            phone=customer.phone,
            language=customer.language,
            shipping_address=customer.address,
            country=customer.country,
            status=status,
            created_at=gen._at(dates["created"]),
            promised_delivery=dates["promised"],
            estimated_delivery=dates.get("estimated"),
            shipped_at=gen._at(dates["shipped"]) if "shipped" in dates else None,
            delivered_at=gen._at(dates["delivered"]) if "delivered" in dates else None,
            carrier=carrier,
            tracking_number=tracking,
            total=subtotal + shipping,
            currency="ILS",
        )
        row.items = [
            OrderItemRow(
                sku=p["sku"], name_en=p["en"], name_he=p["he"], quantity=qty,
                unit_price=Decimal(str(p["price"])),
            )
            for p, qty in lines
        ]
        if status == "returned":
            returned_on = dates["delivered"] + timedelta(days=rng.randint(2, 10))
            row.returns = [
                ReturnRow(
                    rma=f"R{order_id}-{rng.randint(0, 0xFFFF):04X}",
                    order_id=order_id,
                    reason=rng.choice(RETURN_REASONS),
                    created_at=gen._at(min(returned_on, today)),
                )
            ]
        rows.append(row)
    return rows


def seed_database(engine: Engine, today: date, count: int = 240, seed: int = DEFAULT_SEED) -> int:
    """Creates the schema and fills an empty orders database.

    Args:
        engine: SQLAlchemy engine of the orders database.
        today: The day the orders are relative to.
        count: How many orders to create.
        seed: Random seed.

    Returns:
        How many orders were written (0 if the database already had orders).
    """
    Base.metadata.create_all(engine)
    with Session(engine, future=True) as session, session.begin():
        if session.query(OrderRow).limit(1).first() is not None:
            return 0
        rows = generate_orders(today, count, seed)
        session.add_all(rows)
    return len(rows)


def reset_database(engine: Engine) -> None:
    """Drops every orders table (the ``--reset`` of the seed command)."""
    Base.metadata.drop_all(engine)
