"""Normalising what customers type, and the store's rules about an order."""

from __future__ import annotations

from actions.orders.domain import normalize_email, normalize_order_id, normalize_phone


def test_order_numbers_are_found_in_what_customers_type():
    assert normalize_order_id("#104233") == "104233"
    assert normalize_order_id("ההזמנה שלי 104233 תודה") == "104233"
    assert normalize_order_id("order 104233 and 104233 again") == "104233"
    assert normalize_order_id("104233 or 104234") is None
    assert normalize_order_id("1042330") is None and normalize_order_id("042331") is None
    assert normalize_order_id("🙂") is None


def test_emails_and_phones():
    assert normalize_email(" Dana.Levi@Example.COM. ") == "dana.levi@example.com"
    assert normalize_email("not an email") is None
    assert normalize_phone("+972 50-555-1234") == normalize_phone("050 5551234") == "0505551234"
    assert normalize_phone("12") is None
