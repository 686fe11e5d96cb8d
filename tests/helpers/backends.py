"""Backends for action tests: a real SQLite orders database seeded for a fixed day."""

from __future__ import annotations

import asyncio
import random
from datetime import date, datetime, time
from pathlib import Path
from typing import Callable, Dict, List, Optional

from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.backends import Backends
from actions.kb.search import InMemoryKnowledgeBase
from actions.orders.domain import Order
from actions.orders.models import OrderRow
from actions.orders.repository import SqlOrderRepository
from actions.orders.seed import seed_database
from core.language import Language
from core.redis_keys import RedisKeys
from handoff.agents import load_agents
from handoff.desk import Desk
from handoff.identity import IdentityBook
from handoff.mail.outbox import MailOutbox
from handoff.policy import load_policy
from handoff.state import HandoffStore
from tests.helpers.texts import catalog

ROOT = Path(__file__).resolve().parents[2]
TODAY = date(2026, 3, 15)  # a Sunday: a business day in Israel
NOW = datetime.combine(TODAY, time(10, 30))

_KB: Optional[InMemoryKnowledgeBase] = None


def shared_kb() -> InMemoryKnowledgeBase:
    """One knowledge base for the whole test session (building it reads 48 files)."""
    global _KB
    if _KB is None:
        _KB = InMemoryKnowledgeBase(ROOT / "data" / "kb")
    return _KB


TEST_PREFIX = "test:ho:"


def desk_on(store: HandoffStore, clock: Callable[[], float], outbox: Optional[MailOutbox] = None) -> Desk:
    """The live-agent desk over ``store`` with the project's policy and agents; the store shares ``clock``."""
    store.clock = clock
    return Desk(store, load_policy(), load_agents(ROOT / "handoff" / "agents.yml"), catalog(),
                IdentityBook(store.redis, store.keys), outbox=outbox, clock=clock)


def make_desk(redis: Redis) -> Desk:
    """The live-agent desk on a real Redis, with e-mails queued, at NOW."""
    keys = RedisKeys(TEST_PREFIX)
    return desk_on(HandoffStore(redis, keys), NOW.timestamp, MailOutbox(redis, keys, clock=NOW.timestamp))


def make_backends(db_path: Path, default_language: Language = "en", redis: Optional[Redis] = None) -> Backends:
    """Seeds a fresh SQLite database at ``db_path`` and wraps it in backends (with a desk given Redis)."""
    repo = SqlOrderRepository.from_url(f"sqlite:///{db_path}")
    seed_database(repo.engine, TODAY)
    return Backends(
        orders=repo,
        kb=shared_kb(),
        texts=catalog(),
        clock=lambda: NOW,
        default_language=default_language,
        policy=load_policy(),
        handoff=make_desk(redis) if redis is not None else None,
    )


def orders_where(backends: Backends, **filters: str) -> List[Order]:
    """Seeded orders matching column values, e.g. ``status="processing", language="he"``."""
    from actions.orders.repository import _order_from_row

    assert isinstance(backends.orders, SqlOrderRepository)
    with Session(backends.orders.engine) as session:
        query = select(OrderRow).order_by(OrderRow.order_id)
        for column, value in filters.items():
            query = query.where(getattr(OrderRow, column) == value)
        return [_order_from_row(row) for row in session.scalars(query)]


def fetch_order(backends: Backends, order_id: str) -> Order:
    """The order as the database has it now, from sync code (the stack's tests); it must exist."""
    order = asyncio.run(backends.orders.get(order_id))
    assert order is not None, f"order {order_id} is not in the database"
    return order


def pick(orders: List[Order], seed: int = 0) -> Order:
    """One order out of many, deterministically."""
    assert orders, "the seed has no order of that kind"
    return random.Random(seed).choice(orders)


def unused_order_id(backends: Backends) -> str:
    """A well-formed order number that no order has."""
    taken: Dict[str, bool] = {o.order_id: True for o in orders_where(backends)}
    candidate = 199999
    while str(candidate) in taken:
        candidate -= 1
    return str(candidate)
