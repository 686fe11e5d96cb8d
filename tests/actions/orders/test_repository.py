"""The SQL orders repository on a real SQLite database."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest

from actions.orders.domain import ReturnCheck
from actions.orders.repository import OrderNotFound, OrderStateConflict, ReturnNotAllowed
from tests.helpers.backends import NOW, orders_where, pick


async def test_get_returns_items_and_exact_money(backends):
    order = pick(orders_where(backends))
    loaded = await backends.orders.get(order.order_id)
    assert loaded.items and sum(i.unit_price * i.quantity for i in loaded.items) <= loaded.total
    assert str(loaded.total).count(".") == 1 and len(str(loaded.total).split(".")[1]) == 2
    assert await backends.orders.get("000000") is None


async def test_find_by_contact_matches_email_or_any_phone_format(backends):
    order = pick(orders_where(backends))
    by_email = await backends.orders.find_by_contact(email=order.email.upper())
    by_phone = await backends.orders.find_by_contact(phone="+972" + order.phone[1:])
    assert order.order_id in {o.order_id for o in by_email}
    assert {o.order_id for o in by_email} == {o.order_id for o in by_phone}
    assert await backends.orders.find_by_contact() == []


async def test_only_one_of_two_concurrent_cancellations_wins(backends):
    order = pick(orders_where(backends, status="processing"))
    results = await asyncio.gather(
        *(backends.orders.cancel(order.order_id, NOW) for _ in range(5)), return_exceptions=True
    )
    assert sum(not isinstance(r, Exception) for r in results) == 1
    assert sum(isinstance(r, OrderStateConflict) for r in results) == 4
    assert (await backends.orders.get(order.order_id)).status == "cancelled"


async def test_changes_after_shipping_are_refused(backends):
    order = pick(orders_where(backends, status="delivered"))
    with pytest.raises(OrderStateConflict):
        await backends.orders.cancel(order.order_id, NOW)
    with pytest.raises(OrderNotFound):
        await backends.orders.change_address("999999", "Herzl 1, Haifa", NOW)


async def test_return_window_is_checked_in_the_database_write(backends):
    order = pick(orders_where(backends, status="delivered"))
    assert order.delivered_at is not None
    late = order.delivered_at + timedelta(days=31)
    with pytest.raises(ReturnNotAllowed) as info:
        await backends.orders.request_return(order.order_id, "changed my mind", late)
    assert info.value.check is ReturnCheck.WINDOW_PASSED
