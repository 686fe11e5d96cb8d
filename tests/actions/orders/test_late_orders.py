"""The orders store's side of late-order notices: marking an order delayed (listeners told) and finding late ones."""

from __future__ import annotations

from datetime import timedelta
from typing import List, Tuple

import pytest

from actions.orders.domain import Order
from actions.orders.repository import OrderNotFound, OrderStateConflict, SqlOrderRepository
from tests.helpers.backends import NOW, TODAY, orders_where, pick


async def test_marking_an_order_delayed_stores_the_estimate_and_tells_the_listeners(backends) -> None:
    repo = backends.orders
    assert isinstance(repo, SqlOrderRepository)
    heard: List[Tuple[str, str]] = []

    async def listener(order: Order, change: str) -> None:
        heard.append((order.order_id, change))

    async def broken(order: Order, change: str) -> None:
        raise RuntimeError("a listener's bug")

    repo.add_listener(broken)  # a failing listener neither fails the change nor stops the others
    repo.add_listener(listener)
    order = pick(orders_where(backends, status="shipped"))
    estimate = TODAY + timedelta(days=9)
    changed = await repo.mark_delayed(order.order_id, estimate, NOW)
    assert (changed.status, changed.estimated_delivery) == ("delayed", estimate)
    assert (await repo.get(order.order_id)) == changed
    assert heard == [(order.order_id, "delayed")]
    assert order.order_id in {o.order_id for o in await repo.find_late(TODAY)}


async def test_a_finished_or_unknown_order_cannot_be_delayed(backends) -> None:
    repo = backends.orders
    assert isinstance(repo, SqlOrderRepository)
    with pytest.raises(OrderStateConflict):
        await repo.mark_delayed(pick(orders_where(backends, status="delivered")).order_id, TODAY, NOW)
    with pytest.raises(OrderNotFound):
        await repo.mark_delayed("199999", TODAY, NOW)


async def test_find_late_returns_open_orders_that_are_late_or_expected_late_only(backends) -> None:
    repo = backends.orders
    assert isinstance(repo, SqlOrderRepository)
    found = await repo.find_late(TODAY)
    assert found, "the seed has late orders"
    for order in found:
        assert order.status in ("processing", "shipped", "delayed")
        assert (order.status == "delayed" or TODAY > order.promised_delivery
                or (order.estimated_delivery is not None and order.estimated_delivery > order.promised_delivery))
    on_time = [o for o in orders_where(backends, status="processing")
               if o.promised_delivery >= TODAY and (o.estimated_delivery or TODAY) <= o.promised_delivery]
    assert on_time and not {o.order_id for o in on_time} & {o.order_id for o in found}
