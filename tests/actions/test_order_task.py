"""What the customer is told, and what changes, once the order form is complete."""

from __future__ import annotations

import re
from typing import Any, Dict

from rasa_sdk.executor import CollectingDispatcher

from actions.order_form import ActionAskCancelConfirmed
from actions.order_task import ActionOrderTask
from actions.orders.domain import RETURN_WINDOW_DAYS, Order, contact_matches
from core.language import is_hebrew
from tests.helpers.backends import TODAY, orders_where, pick, unused_order_id
from tests.helpers.texts import catalog
from tests.helpers.trackers import make_tracker, user_event


async def _run(backends, domain, **slots: Any):
    dispatcher = CollectingDispatcher()
    events = await ActionOrderTask(backends).run(dispatcher, make_tracker(domain, slots=slots), domain)
    texts = [m["text"] for m in dispatcher.messages]
    set_slots: Dict[str, Any] = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    return texts, set_slots


def _days_since_delivery(order: Order) -> int:
    assert order.delivered_at is not None, f"delivered order {order.order_id} has no delivery date"
    return (TODAY - order.delivered_at.date()).days


def _verified(order) -> Dict[str, Any]:
    return {"order_id": order.order_id, "contact": order.email, "verified_email": order.email}


async def test_status_of_a_shipped_order_names_carrier_tracking_and_date(backends, domain):
    order = pick(orders_where(backends, status="shipped", language="en"))
    assert order.carrier and order.tracking_number and order.estimated_delivery  # a shipped order has them
    texts, slots = await _run(backends, domain, order_task="status", language="en", **_verified(order))
    assert order.carrier in texts[0] and order.tracking_number in texts[0]
    assert order.estimated_delivery.strftime("%-d %B") in texts[0]
    assert slots["order_status"] == "shipped"
    # The form's per-run slots are cleared, the order and the verified e-mail stay.
    assert slots["contact"] is None and "order_id" not in slots and "verified_email" not in slots


async def test_status_in_hebrew_uses_hebrew_item_names_and_dates(backends, domain):
    order = pick(orders_where(backends, status="processing", language="he"))
    assert order.estimated_delivery is not None
    texts, _ = await _run(backends, domain, order_task="status", language="he", **_verified(order))
    assert is_hebrew(texts[0])
    assert order.items[0].name_he in texts[0]
    assert "ב" in texts[0] and order.estimated_delivery.strftime("%-d") in texts[0]


async def test_in_hebrew_the_courier_has_its_hebrew_name(backends, domain):
    """"דואר ישראל", not "Israel Post" inside a Hebrew sentence (a courier the catalog lacks keeps its name)."""
    shipped = [o for o in orders_where(backends, status="shipped") if o.carrier]
    order = next(o for o in shipped if o.carrier == "Israel Post")
    texts, _ = await _run(backends, domain, order_task="status", language="he", **_verified(order))
    assert "בדרך אליכם עם דואר ישראל" in texts[0] and "Israel Post" not in texts[0]
    texts, _ = await _run(backends, domain, order_task="status", language="en", **_verified(order))
    assert "with Israel Post" in texts[0]


async def test_a_late_order_gets_an_apology_and_an_offer_of_a_human(backends, domain):
    order = pick(orders_where(backends, status="delayed"))
    texts, slots = await _run(backends, domain, order_task="late", language="en", **_verified(order))
    assert "sorry" in texts[0].lower()
    assert slots["human_offered"] is True and slots["human_offer_reason"] == "complaint"


async def test_changing_the_address_before_shipping_updates_the_database(backends, domain):
    order = pick(orders_where(backends, status="processing"))
    new = "Rothschild Blvd 1, Tel Aviv"
    texts, _ = await _run(backends, domain, order_task="change_address", new_address=new,
                          order_task_allowed=True, **_verified(order))
    assert new in texts[0]
    assert (await backends.orders.get(order.order_id)).shipping_address == new


async def test_the_address_of_a_shipped_order_cannot_change(backends, domain):
    order = pick(orders_where(backends, status="shipped"))
    texts, _ = await _run(backends, domain, order_task="change_address", **_verified(order))
    assert "can no longer be changed" in texts[0]
    assert (await backends.orders.get(order.order_id)).shipping_address == order.shipping_address


async def test_cancelling_needs_a_yes(backends, domain):
    order = pick(orders_where(backends, status="processing"), seed=1)
    texts, _ = await _run(backends, domain, order_task="cancel", cancel_confirmed=False,
                          order_task_allowed=True, **_verified(order))
    assert "stays as it is" in texts[0]
    assert (await backends.orders.get(order.order_id)).status == "processing"
    texts, slots = await _run(backends, domain, order_task="cancel", cancel_confirmed=True,
                              order_task_allowed=True, **_verified(order))
    assert "is cancelled" in texts[0]
    assert (await backends.orders.get(order.order_id)).status == "cancelled"
    assert slots["order_status"] == "cancelled"


async def test_a_shipped_order_cannot_be_cancelled(backends, domain):
    order = pick(orders_where(backends, status="shipped"))
    texts, _ = await _run(backends, domain, order_task="cancel", cancel_confirmed=True, **_verified(order))
    assert "can't be cancelled" in texts[0]
    assert (await backends.orders.get(order.order_id)).status == "shipped"


async def test_a_return_inside_the_window_opens_an_rma(backends, domain):
    recent = [o for o in orders_where(backends, status="delivered") if _days_since_delivery(o) <= RETURN_WINDOW_DAYS]
    order = pick(recent)
    texts, _ = await _run(backends, domain, order_task="return", return_reason="Wrong size",
                          order_task_allowed=True, **_verified(order))
    rma = re.search(r"R\d{6}-[0-9A-F]{4}", texts[0])
    assert rma, texts[0]
    # A second return of the same order is refused.
    texts, _ = await _run(backends, domain, order_task="return", return_reason="again",
                          order_task_allowed=True, **_verified(order))
    assert "already an open return" in texts[0]


async def test_a_return_after_30_days_is_refused_with_the_delivery_date(backends, domain):
    old = [o for o in orders_where(backends, status="delivered") if _days_since_delivery(o) > RETURN_WINDOW_DAYS]
    order = pick(old)
    assert order.delivered_at is not None
    texts, _ = await _run(backends, domain, order_task="return", **_verified(order))
    assert "outside the return window" in texts[0]
    assert order.delivered_at.strftime("%-d %B") in texts[0]


async def test_three_failed_verifications_hand_the_conversation_over(backends, domain):
    order = pick(orders_where(backends, status="shipped"))  # an order with details to give away
    assert order.carrier and order.tracking_number
    texts, slots = await _run(backends, domain, order_task="status", order_id=order.order_id,
                              verification_failures=3.0)
    said = " ".join(texts)
    assert texts and order.carrier not in said and order.tracking_number not in said
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "verification_failed"
    assert slots["order_id"] is None


async def test_three_unknown_numbers_offer_a_human(backends, domain):
    texts, slots = await _run(backends, domain, order_task="status", order_id_failures=3.0)
    assert "connect you" in texts[0]
    assert slots["human_offered"] is True and slots["human_offer_reason"] == "order_not_found"


async def test_a_frustrated_late_order_complaint_goes_straight_to_a_person_ahead_of_others(backends, domain):
    order = pick(orders_where(backends, status="delayed", language="he"))
    complaint = user_event("נמאס לי, ההזמנה שוב מתעכבת!!", "complain_late")
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, events=[complaint], sender_id="angry-1",
                           slots={"order_task": "late", "language": "he", **_verified(order)})
    events = await ActionOrderTask(backends).run(dispatcher, tracker, domain)
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["handoff_requested"] is True and slots["handoff_reason"] == "complaint_frustration"
    conv = await backends.handoff.store.get("angry-1")
    assert conv.state.value == "queued" and conv.priority == 2 and conv.topic == "orders"
    assert conv.email == order.email


async def test_a_calm_late_order_complaint_is_offered_a_person(backends, domain):
    order = pick(orders_where(backends, status="delayed", language="en"))
    complaint = user_event("my order is late, where is it?", "complain_late")
    tracker = make_tracker(domain, events=[complaint], sender_id="calm-1",
                           slots={"order_task": "late", "language": "en", **_verified(order)})
    events = await ActionOrderTask(backends).run(CollectingDispatcher(), tracker, domain)
    slots = {e["name"]: e["value"] for e in events if e["event"] == "slot"}
    assert slots["human_offered"] is True and "handoff_requested" not in slots
    assert await backends.handoff.store.get("calm-1") is None


# -- a forged tracker: the slots say "verified", the contact is not the order's ---------------------------

_FORGED_CONTACT = "attacker@example.com"


async def test_a_forged_tracker_with_a_made_up_contact_reads_nothing(backends, domain):
    order = pick(orders_where(backends, status="shipped"))
    assert order.carrier and order.tracking_number
    texts, slots = await _run(backends, domain, order_task="status", language="en", order_id=order.order_id,
                              contact=_FORGED_CONTACT, verified_email=_FORGED_CONTACT)
    said = " ".join(texts)
    for detail in (order.carrier, order.tracking_number, order.items[0].name_en, order.shipping_address):
        assert detail not in said
    assert "order_status" not in slots and slots["order_id"] is None


async def test_a_forged_tracker_cannot_re_address_or_cancel_or_return(backends, domain):
    processing = pick(orders_where(backends, status="processing"), seed=3)
    await _run(backends, domain, order_task="change_address", new_address="Evil St 1, Nowhere",
               order_task_allowed=True, order_id=processing.order_id, contact=_FORGED_CONTACT)
    wrong_phone = "050-000-0000"
    assert not contact_matches(processing, wrong_phone)
    await _run(backends, domain, order_task="cancel", cancel_confirmed=True, order_task_allowed=True,
               order_id=processing.order_id, contact=wrong_phone)
    after = await backends.orders.get(processing.order_id)
    assert after is not None
    assert after.shipping_address == processing.shipping_address and after.status == "processing"
    delivered = [o for o in orders_where(backends, status="delivered") if _days_since_delivery(o) <= RETURN_WINDOW_DAYS]
    order = pick(delivered)
    texts, _ = await _run(backends, domain, order_task="return", return_reason="x", order_task_allowed=True,
                          order_id=order.order_id, contact=_FORGED_CONTACT)
    assert not re.search(r"R\d{6}-[0-9A-F]{4}", " ".join(texts))
    assert (await backends.orders.get(order.order_id)).status == "delivered"


async def test_a_made_up_contact_and_a_missing_order_get_the_same_answer(backends, domain):
    real = pick(orders_where(backends, status="processing"))
    missing = unused_order_id(backends)
    answers = []
    for order_id in (real.order_id, missing):
        texts, slots = await _run(backends, domain, order_task="status", language="he", order_id=order_id,
                                  contact=_FORGED_CONTACT)
        answers.append((texts, slots))
    assert answers[0] == answers[1]


async def test_the_cancellation_question_shows_nothing_to_a_forged_tracker(backends, domain):
    order = pick(orders_where(backends, status="processing"))
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, slots={"order_id": order.order_id, "contact": _FORGED_CONTACT, "language": "en"})
    await ActionAskCancelConfirmed(backends).run(dispatcher, tracker, domain)
    said = " ".join(m["text"] for m in dispatcher.messages)
    assert said == catalog().text("verification_failed", "en")
    assert order.items[0].name_en not in said
