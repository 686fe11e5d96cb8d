"""The desk's customer panel: what the agent sees of the customer, even when the orders store is down."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.orders.models import OrderRow
from actions.orders.repository import SqlOrderRepository
from actions.orders.seed import seed_database
from core.bidi import strip_controls
from core.processes import free_port
from handoff.desk import Desk
from handoff.state import HandoffStore
from tests.handoff.helpers import CLOSED, Clock, make_desk, request
from tests.helpers.backends import TODAY


def _with_orders(desk: Desk, orders: SqlOrderRepository) -> Desk:
    return Desk(desk.store, desk.policy, desk.agents, desk.texts, desk.identity, orders=orders, clock=desk.clock)


async def test_the_panel_lists_the_customers_orders(store: HandoffStore, tmp_path: Path) -> None:
    repo = SqlOrderRepository.from_url(f"sqlite:///{tmp_path / 'orders.db'}")
    seed_database(repo.engine, TODAY, count=20)
    with Session(repo.engine) as session:
        row = session.scalars(select(OrderRow).order_by(OrderRow.order_id)).first()
    assert row is not None
    order = await repo.get(row.order_id)
    assert order is not None
    desk = _with_orders(make_desk(store), repo)
    await store.request(request("c1", email=order.email))
    panel = await desk.customer_panel("c1")
    assert panel["orders_available"] is True
    assert order.order_id in [o["order_id"] for o in panel["orders"]]


async def test_an_unreachable_orders_database_still_shows_the_rest_of_the_panel(store: HandoffStore) -> None:
    down = SqlOrderRepository.from_url(f"postgresql://kesher@127.0.0.1:{free_port()}/orders")
    desk = _with_orders(make_desk(store), down)
    await store.request(request("c2", email="noa@example.com"))
    panel = await desk.customer_panel("c2")
    assert panel["orders_available"] is False and panel["orders"] == []
    assert panel["email"] == "noa@example.com" and panel["reference"]


async def test_out_of_hours_the_customer_is_told_when_the_team_is_back_in_their_language(store: HandoffStore) -> None:
    desk = make_desk(store, Clock(CLOSED))  # a Saturday: the team is back on Sunday at 08:00
    ticket = await desk.request(request("night", language="he"))
    assert not ticket.in_hours
    assert "יחזור לעבודה ביום ראשון בשעה 08:00" in strip_controls(desk.ticket_text(ticket, "he"))
    assert "we're back on Sunday at 08:00" in desk.ticket_text(ticket, "en")


async def test_in_hours_with_nobody_online_the_customer_is_told_until_when_the_team_answers(
        store: HandoffStore) -> None:
    desk = make_desk(store)  # a Sunday morning in Israel: open 08:00-20:00, nobody online, so no estimate
    ticket = await desk.request(request("nobody", language="he"))
    assert ticket.in_hours and not ticket.eta_minutes
    hebrew = strip_controls(desk.ticket_text(ticket, "he"))
    assert "כרגע אין נציג פנוי" in hebrew and "הצוות זמין היום עד השעה 20:00" in hebrew
    assert "answers until 20:00 today" in desk.ticket_text(ticket, "en")
    desk.clock = Clock(CLOSED)  # closed now: the after-hours text says when the team is back instead
    assert desk.closing_today() == ""
