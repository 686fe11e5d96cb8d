"""The order form's validation, against a real seeded SQLite database."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.order_form import ValidateOrderForm
from tests.helpers.backends import orders_where, pick, unused_order_id
from tests.helpers.texts import catalog
from tests.helpers.trackers import make_tracker


def _texts(dispatcher: CollectingDispatcher) -> list[str]:
    return [m["text"] for m in dispatcher.messages]


async def test_a_real_order_number_is_accepted_but_nothing_about_it_is_known_before_verification(backends, domain):
    order = pick(orders_where(backends, status="shipped"))
    action = ValidateOrderForm(backends)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text=f"#{order.order_id}", intent="inform", slots={"order_task": "status"})
    result = await action.validate_order_id(f"#{order.order_id}", dispatcher, tracker, domain)
    assert result == {"order_id": order.order_id, "order_id_failures": 0}
    assert dispatcher.messages == []
    # The matching contact verifies the customer; only now is the order's status recorded.
    tracker = make_tracker(domain, text=order.email, slots={"order_task": "status", "order_id": order.order_id})
    result = await action.validate_contact(order.email, CollectingDispatcher(), tracker, domain)
    assert result["verified_email"] == order.email and result["order_status"] == "shipped"


async def test_a_malformed_number_gets_a_hint_and_counts_as_a_failure(backends, domain):
    action = ValidateOrderForm(backends)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text="abc", intent="inform")
    result = await action.validate_order_id("abc", dispatcher, tracker, domain)
    assert result == {"order_id": None, "order_id_failures": 1}
    assert "6 digits" in _texts(dispatcher)[0]


async def test_an_unknown_order_and_a_wrong_contact_get_the_same_answer(backends, domain):
    """No enumeration: whether a number is an order cannot be told from what the bot says."""
    missing = unused_order_id(backends)
    real = pick(orders_where(backends, status="processing"))
    action = ValidateOrderForm(backends)
    answers = {}
    for order_id in (missing, real.order_id):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(domain, text=order_id, intent="inform", slots={"order_task": "cancel"})
        accepted = await action.validate_order_id(order_id, dispatcher, tracker, domain)
        assert accepted == {"order_id": order_id, "order_id_failures": 0} and dispatcher.messages == []
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(domain, text="stranger@example.com",
                               slots={"order_task": "cancel", "order_id": order_id, "verification_failures": 1.0})
        result = await action.validate_contact("stranger@example.com", dispatcher, tracker, domain)
        assert result == {"contact": None, "verification_failures": 2}
        answers[order_id] = _texts(dispatcher)
    assert answers[missing] == [catalog().text("order_not_matched", "en", order_id=missing, remaining=1)]
    assert answers[real.order_id] == [catalog().text("order_not_matched", "en", order_id=real.order_id, remaining=1)]


async def test_another_order_number_while_asked_for_the_contact_is_not_a_failed_try(backends, domain):
    order = pick(orders_where(backends))
    action = ValidateOrderForm(backends)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text=order.order_id, slots={"order_id": order.order_id})
    result = await action.validate_contact(order.order_id, dispatcher, tracker, domain)
    assert result == {"contact": None} and dispatcher.messages == []


async def test_injection_in_the_order_number_is_refused_and_the_table_survives(backends, domain):
    order = pick(orders_where(backends))
    attempt = f"{order.order_id}' OR '1'='1'; DROP TABLE orders; --"
    action = ValidateOrderForm(backends)
    dispatcher = CollectingDispatcher()
    # Two different numbers in one message are not one order number.
    text = f"{attempt} 123456"
    result = await action.validate_order_id(text, dispatcher, make_tracker(domain, text=text), domain)
    assert result["order_id"] is None
    assert await backends.orders.get(order.order_id) == order


async def test_the_third_failure_is_silent_and_ends_the_form(backends, domain):
    action = ValidateOrderForm(backends)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text="nope", intent="inform", slots={"order_id_failures": 2.0})
    result = await action.validate_order_id("nope", dispatcher, tracker, domain)
    assert result["order_id_failures"] == 3
    assert dispatcher.messages == []  # action_order_task speaks next
    after = make_tracker(domain, slots={"order_id_failures": 3.0})
    assert await action.required_slots([], dispatcher, after, domain) == []


async def test_the_e_mail_or_phone_on_the_order_verifies_the_customer(backends, domain):
    order = pick(orders_where(backends, language="he"))
    action = ValidateOrderForm(backends)
    for supplied in (order.email.upper(), f"+972 {order.phone[1:3]}-{order.phone[3:6]}-{order.phone[6:]}"):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(domain, text=supplied, slots={"order_id": order.order_id, "language": "he"})
        result = await action.validate_contact(supplied, dispatcher, tracker, domain)
        assert result["verified_email"] == order.email
        assert result["contact"] == supplied
        assert order.first_name in _texts(dispatcher)[0]


async def test_a_mismatch_says_how_many_tries_are_left(backends, domain):
    order = pick(orders_where(backends))
    action = ValidateOrderForm(backends)
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text="someone@example.com", slots={"order_id": order.order_id})
    result = await action.validate_contact("someone@example.com", dispatcher, tracker, domain)
    assert result == {"contact": None, "verification_failures": 1}
    assert "2 more tries" in _texts(dispatcher)[0]
    # Nothing about the order leaks before verification.
    assert order.email not in _texts(dispatcher)[0] and order.shipping_address not in _texts(dispatcher)[0]


async def test_a_customer_verified_earlier_is_not_asked_again(backends, domain):
    first = pick(orders_where(backends))
    same_customer = [o for o in orders_where(backends, email=first.email) if o.order_id != first.order_id]
    order = same_customer[0] if same_customer else first
    action = ValidateOrderForm(backends)
    tracker = make_tracker(domain, text=order.order_id, slots={"verified_email": first.email, "order_task": "status"})
    result = await action.validate_order_id(order.order_id, CollectingDispatcher(), tracker, domain)
    assert result["contact"] == first.email


async def test_task_slots_are_asked_only_when_the_order_allows_the_task(backends, domain):
    action = ValidateOrderForm(backends)
    processing = pick(orders_where(backends, status="processing"))
    shipped = pick(orders_where(backends, status="shipped"))
    for order, expected in ((processing, True), (shipped, False)):
        tracker = make_tracker(domain, text=order.email, slots={"order_task": "cancel", "order_id": order.order_id})
        result = await action.validate_contact(order.email, CollectingDispatcher(), tracker, domain)
        assert result["order_task_allowed"] is expected
        filled = make_tracker(
            domain,
            slots={"order_task": "cancel", "order_id": order.order_id, "contact": order.email,
                   "order_task_allowed": expected},
        )
        slots = await action.required_slots([], CollectingDispatcher(), filled, domain)
        assert ("cancel_confirmed" in slots) is expected


async def test_an_address_needs_a_street_number_and_place(backends, domain):
    action = ValidateOrderForm(backends)
    dispatcher = CollectingDispatcher()
    bad = await action.validate_new_address("somewhere", dispatcher, make_tracker(domain), domain)
    assert bad == {"new_address": None} and "house number" in _texts(dispatcher)[0]
    messy = "  הרצל   12,  חיפה "
    good = await action.validate_new_address(messy, CollectingDispatcher(), make_tracker(domain), domain)
    assert good == {"new_address": "הרצל 12, חיפה"}


def test_cancellation_needs_an_unmistakable_yes(backends, domain):
    action = ValidateOrderForm(backends)

    def confirm(text: str, confidence: float, value=True):
        tracker = make_tracker(domain, text=text, intent="affirm")
        tracker.latest_message["intent"]["confidence"] = confidence
        return action.validate_cancel_confirmed(value, CollectingDispatcher(), tracker, domain)["cancel_confirmed"]

    assert confirm("/affirm", 1.0) is True  # the "Yes, cancel it" button
    assert confirm("yes please", 0.93) is True
    assert confirm("כן, לבטל", 0.9) is True
    assert confirm("אל תעשה את זה", 0.9) is None  # a negation: ask again
    assert confirm("no wait", 0.85) is None
    assert confirm("yeah maybe", 0.55) is None  # not sure enough: ask again
    assert confirm("no", 0.95, value=False) is False


async def test_verifying_on_a_second_channel_joins_the_earlier_conversation(backends, domain):
    order = pick(orders_where(backends, language="en"))
    action = ValidateOrderForm(backends)
    for sender in ("web:session-1", "whatsapp:+972501234567"):
        dispatcher = CollectingDispatcher()
        tracker = make_tracker(domain, text=order.email, slots={"order_id": order.order_id, "language": "en"},
                               sender_id=sender)
        await action.validate_contact(order.email, dispatcher, tracker, domain)
    assert "earlier conversation" in _texts(dispatcher)[-1]
    assert await backends.handoff.identity.resolve("whatsapp", "+972501234567") == "web:session-1"
