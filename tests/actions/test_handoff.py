"""Asking for a human records the request and its reason in the tracker."""

from __future__ import annotations

import re

from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import ActionDeclineHuman, ActionHandoff, what_the_customer_asked
from core.bidi import strip_controls
from handoff.limits import Limit, RateLimiter
from tests.helpers.backends import NOW, orders_where, pick
from tests.helpers.trackers import make_tracker, user_event


async def _handoff(backends, domain, intent, slots):
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff(backends).run(dispatcher, make_tracker(domain, text="x", intent=intent, slots=slots),
                                              domain)
    return dispatcher.messages[0]["text"], {e["name"]: e["value"] for e in events}


async def test_an_explicit_request_is_recorded_with_a_reference(backends, domain):
    text, slots = await _handoff(backends, domain, "human_handoff", {"language": "en"})
    assert slots["handoff_requested"] is True
    assert slots["handoff_reason"] == "explicit_request"
    assert slots["handoff_requested_at"] == NOW.isoformat(timespec="seconds")
    assert re.fullmatch(r"K-[0-9A-F]{6}", slots["handoff_reference"])
    assert slots["handoff_reference"] in text


async def test_accepting_an_offer_keeps_the_offers_reason(backends, domain):
    _, slots = await _handoff(backends, domain, "affirm",
                              {"human_offered": True, "human_offer_reason": "complaint"})
    assert slots["handoff_reason"] == "complaint"
    assert slots["human_offered"] is False


async def test_the_reply_is_in_hebrew_for_a_hebrew_customer(backends, domain):
    text, _ = await _handoff(backends, domain, "human_handoff", {"language": "he"})
    assert "נציג" in text


async def test_declining_closes_the_offer(backends, domain):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text="no", intent="deny", slots={"human_offered": True})
    events = await ActionDeclineHuman(backends).run(dispatcher, tracker, domain)
    assert {e["name"]: e["value"] for e in events} == {"human_offered": False, "human_offer_reason": None}
    assert "anything else" in dispatcher.messages[0]["text"]


# -- the conversation really enters the live-agent queue ---------------------------

async def test_a_request_puts_the_conversation_in_the_queue_and_says_where_it_stands(backends, domain):
    desk = backends.handoff
    await desk.request(_other_request("someone-else"))  # one customer already waiting
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text="I want to talk to a person", intent="human_handoff",
                           slots={"language": "en"}, sender_id="cust-1")
    events = await ActionHandoff(backends).run(dispatcher, tracker, domain)
    texts = [m["text"] for m in dispatcher.messages]
    conv = await desk.store.get("cust-1")
    assert conv is not None and conv.state.value == "queued"
    assert conv.reason == "explicit_request" and conv.priority == 1  # explicit requests go first
    assert "I want to talk to a person" in conv.asked
    assert await desk.store.position("cust-1") == 1
    assert any("number 1 in line" in t for t in texts), texts
    # No e-mail known: the bot asks for one, with what it is for.
    assert "e-mail address" in texts[-1]
    reference = {e["name"]: e["value"] for e in events}["handoff_reference"]
    assert conv.reference == reference


async def test_asking_twice_keeps_one_place_and_one_reference(backends, domain):
    tracker = make_tracker(domain, text="human please", intent="human_handoff", slots={"language": "he"},
                           sender_id="cust-2")
    await ActionHandoff(backends).run(CollectingDispatcher(), tracker, domain)
    first = await backends.handoff.store.get("cust-2")
    dispatcher = CollectingDispatcher()
    await ActionHandoff(backends).run(dispatcher, tracker, domain)
    assert await backends.handoff.store.queue() == ["cust-2"]
    assert first.reference in " ".join(m["text"] for m in dispatcher.messages)
    assert any("מקומכם בתור לצוות שלנו: 1." in strip_controls(m["text"]) for m in dispatcher.messages)


async def test_a_verified_customer_is_not_asked_for_an_email_and_the_summary_is_queued(backends, domain):
    order = pick(orders_where(backends, status="delayed"))
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text="agent", intent="human_handoff", sender_id="cust-3",
                           slots={"language": "en", "order_id": order.order_id, "verified_email": order.email,
                                  "order_status": "delayed"})
    await ActionHandoff(backends).run(dispatcher, tracker, domain)
    conv = await backends.handoff.store.get("cust-3")
    assert conv is not None
    assert conv.email == order.email and conv.verified_order == order.order_id
    assert f"Order {order.order_id}: delayed" in conv.found
    assert conv.topic == "general"
    assert "e-mail address" not in dispatcher.messages[-1]["text"]
    due = await backends.handoff.store.redis.zrange(backends.handoff.store.keys.mail_due(), 0, -1)
    assert len(due) == 1


async def test_what_the_bot_found_is_written_in_the_customers_language(backends, domain):
    order = pick(orders_where(backends, status="shipped", language="he"))
    tracker = make_tracker(domain, text="נציג", intent="human_handoff", sender_id="cust-he",
                           slots={"language": "he", "order_id": order.order_id, "verified_email": order.email,
                                  "order_status": "shipped"})
    await ActionHandoff(backends).run(CollectingDispatcher(), tracker, domain)
    conv = await backends.handoff.store.get("cust-he")
    assert conv is not None
    texts = backends.texts
    assert conv.found == [
        texts.text("found_identity_verified", "he", email=order.email),
        texts.text("found_order_status", "he", order_id=order.order_id, status=texts.text("status_shipped", "he")),
    ]
    assert not re.search(r"[A-Za-z]{3,}", " ".join(conv.found).replace(order.email, ""))


def _other_request(cid):
    from handoff.models import HandoffRequest

    return HandoffRequest(cid=cid, channel="kesher_callback", language="en", reason="consecutive_fallbacks",
                          reference="K-AAAAAA", priority=0)


async def test_on_a_channel_without_live_chat_the_request_is_recorded_not_queued(backends, domain):
    from tests.helpers.trackers import user_event

    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, events=[user_event("human please", "human_handoff", channel="rest")],
                           slots={"language": "en"}, sender_id="rest-1")
    events = await ActionHandoff(backends).run(dispatcher, tracker, domain)
    assert {e["name"]: e["value"] for e in events}["handoff_requested"] is True
    assert await backends.handoff.store.get("rest-1") is None
    assert "WhatsApp" in dispatcher.messages[-1]["text"]


# -- a conversation cannot flood the queue ------------------------------------------

async def test_a_conversation_asking_again_and_again_is_not_queued_again_past_its_limit(backends, domain):
    desk = backends.handoff
    desk.limiter, desk.handoff_limit = RateLimiter(desk.store.redis, desk.store.keys), Limit(2, 3600)
    tracker = make_tracker(domain, text="human", intent="human_handoff", slots={"language": "en"}, sender_id="cust-9")
    for _ in range(2):  # ask (twice: asking while queued is not a new request), give the place up
        for _ in range(2):
            await ActionHandoff(backends).run(CollectingDispatcher(), tracker, domain)
            assert (await desk.store.get("cust-9")).state.value == "queued"
        await desk.store.give_up("cust-9")
    # The third new request within the hour is refused politely.
    dispatcher = CollectingDispatcher()
    events = await ActionHandoff(backends).run(dispatcher, tracker, domain)
    assert (await desk.store.get("cust-9")).state.value == "bot"
    assert await desk.store.queue() == []
    texts = " ".join(m["text"] for m in dispatcher.messages)
    assert "several times" in texts and "try again in 60 minutes" in texts
    assert "handoff_requested" not in {e["name"] for e in events}
    # Another conversation is not affected.
    other = make_tracker(domain, text="human", intent="human_handoff", slots={"language": "he"}, sender_id="cust-10")
    await ActionHandoff(backends).run(CollectingDispatcher(), other, domain)
    assert await desk.store.queue() == ["cust-10"]


async def test_the_request_carries_the_bot_session_it_came_from(backends, domain):
    started = {"event": "action", "name": "action_session_start", "timestamp": 1_700_000_123.75}
    tracker = make_tracker(domain, text="a person please", intent="human_handoff", slots={"language": "en"},
                           sender_id="web:cust-session", events=[started, {"event": "session_started"}])
    await ActionHandoff(backends).run(CollectingDispatcher(), tracker, domain)
    conv = await backends.handoff.store.get("web:cust-session")
    assert conv is not None and conv.contact == "web:cust-session@1700000123"


def test_what_the_customer_asked_leaves_out_greetings_thanks_yes_no_and_bare_values(domain):
    email = "maya@example.com"
    history = [
        user_event("שלום", "greet"),
        user_event("איפה ההזמנה שלי?", "order_status"),
        {**user_event("104756", "inform"), "parse_data": {
            "intent": {"name": "inform"}, "text": "104756",
            "entities": [{"entity": "order_id", "start": 0, "end": 6, "value": "104756"}]}},
        user_event("K-D901A7?", "inform"),  # not extracted: it stays
        {**user_event(" 104757 ", "inform"), "parse_data": {  # offsets into the text as typed, spaces and all
            "intent": {"name": "inform"}, "text": " 104757 ",
            "entities": [{"entity": "order_id", "start": 1, "end": 7, "value": "104757"}]}},
        {**user_event(email, "inform"), "parse_data": {
            "intent": {"name": "inform"}, "text": email,
            "entities": [{"entity": "email", "start": 0, "end": len(email), "value": email}]}},
        user_event("כן", "affirm"),
        user_event("תודה", "thank"),
        user_event("/rate{\"rating\":\"4\"}", "rate"),
        {**user_event(f"המייל שלי {email} והחבילה לא הגיעה", "complain_late"), "parse_data": {
            "intent": {"name": "complain_late"}, "text": "",
            "entities": [{"entity": "email", "start": 10, "end": 10 + len(email), "value": email}]}},
    ]
    tracker = make_tracker(domain, text="נציג בבקשה", intent="human_handoff", events=history)
    assert what_the_customer_asked(tracker) == [
        "איפה ההזמנה שלי?", "K-D901A7?", f"המייל שלי {email} והחבילה לא הגיעה", "נציג בבקשה"]
