"""The demo seed: deterministic, realistic, every status, both languages."""

from __future__ import annotations

import re
from collections import Counter
from datetime import date

from actions.orders.models import STATUSES
from actions.orders.seed import generate_orders


def test_same_day_same_orders():
    a = generate_orders(date(2026, 1, 4))
    b = generate_orders(date(2026, 1, 4))
    def key(orders):
        return [(o.order_id, o.email, o.status, o.total) for o in orders]

    assert key(a) == key(b)


def test_at_least_200_orders_of_every_status_in_both_languages():
    orders = generate_orders(date(2026, 1, 4))
    assert len(orders) >= 200
    assert len({o.order_id for o in orders}) == len(orders)
    by_status = Counter((o.status, o.language) for o in orders)
    for status in STATUSES:
        assert by_status[(status, "he")] > 0 and by_status[(status, "en")] > 0, status


def test_people_and_dates_are_plausible():
    today = date(2026, 1, 4)
    for order in generate_orders(today):
        assert re.fullmatch(r"[1-9]\d{5}", order.order_id)
        assert order.email.endswith((".example.com", "@example.com", "@example.org", "@example.net"))
        assert re.fullmatch(r"05\d555\d{4}", order.phone)
        assert order.created_at.date() <= today
        if order.language == "he":
            assert re.search(r"[\u05d0-\u05ea]", order.customer_name + order.shipping_address)
        if order.delivered_at:  # a delivered order was shipped first
            assert order.shipped_at is not None
            assert order.shipped_at <= order.delivered_at and order.delivered_at.date() < today
        if order.status == "delayed":
            assert order.estimated_delivery is not None
            assert order.promised_delivery < today <= order.estimated_delivery
        if order.status == "returned":
            assert order.returns
