""""Call me back": the form's number and time, the times offered within business hours, the request filed."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Dict, List
from zoneinfo import ZoneInfo

from rasa_sdk.executor import CollectingDispatcher

from actions.backends import Backends
from actions.callback import (
    ActionAnswerRejected,
    ActionAskCallbackTime,
    ActionCallbackRequest,
    ValidateCallbackForm,
)
from core.bidi import strip_controls
from core.redis_keys import RedisKeys
from handoff.callbacks import CallbackBook
from tests.helpers.backends import orders_where, pick
from tests.helpers.trackers import make_tracker

IL = ZoneInfo("Asia/Jerusalem")


def _at(backends: Backends, when: datetime) -> Backends:
    return Backends(**{**backends.__dict__, "clock": lambda: when})


async def test_the_times_offered_are_within_business_hours_and_skip_a_holiday(backends: Backends,
                                                                             domain: Dict[str, Any]) -> None:
    # Erev Yom Kippur 2026 (Sunday 20 September) at 11:00: the eve closes at 13:00, Yom Kippur is closed.
    erev = _at(backends, datetime(2026, 9, 20, 11, 0, tzinfo=IL))
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text="תתקשרו אליי", intent="request_callback", slots={"language": "he"})
    await ActionAskCallbackTime(erev).run(dispatcher, tracker, domain)
    message = dispatcher.messages[0]
    assert message["text"].startswith("מתי נוח לכם?")
    titles = [b["title"] for b in message["buttons"]]
    payloads = [b["payload"] for b in message["buttons"]]
    assert payloads == ["2026-09-22 08:00", "2026-09-22 10:00", "2026-09-22 12:00", "2026-09-22 14:00"]
    assert strip_controls(titles[0]) == "יום שלישי, 08:00–10:00"
    # After the early close the customer is told the holiday, in their language.
    dispatcher = CollectingDispatcher()
    closed = _at(backends, datetime(2026, 9, 20, 16, 0, tzinfo=IL))
    tracker = make_tracker(domain, text="call me back", intent="request_callback", slots={"language": "en"})
    await ActionAskCallbackTime(closed).run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["text"].startswith(
        "Our team is closed for Yom Kippur and back on Tuesday at 08:00.")


async def test_the_answer_picks_a_window_by_button_number_or_time(backends: Backends,
                                                                 domain: Dict[str, Any]) -> None:
    erev = _at(backends, datetime(2026, 9, 20, 11, 0, tzinfo=IL))
    form = ValidateCallbackForm(erev)
    for answer in ("2026-09-22 10:00", "2", "10:00", "Tuesday, 10:00–12:00"):
        tracker = make_tracker(domain, text=answer, active_loop="callback_form", slots={"language": "en"})
        result = await form.validate_callback_time(answer, CollectingDispatcher(), tracker, domain)
        assert result == {"callback_time": "2026-09-22T10:00:00+03:00"}, answer
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text="at midnight", active_loop="callback_form", slots={"language": "en"})
    assert await form.validate_callback_time("23:00", dispatcher, tracker, domain) == {"callback_time": None}
    assert "choose one of the times" in dispatcher.messages[0]["text"]


async def test_the_number_is_checked_and_a_verified_one_is_not_asked(backends: Backends,
                                                                     domain: Dict[str, Any]) -> None:
    form = ValidateCallbackForm(backends)
    tracker = make_tracker(domain, text="+972 50-555-1234", active_loop="callback_form")
    assert await form.validate_callback_phone("+972 50-555-1234", CollectingDispatcher(), tracker, domain) == {
        "callback_phone": "0505551234"}
    dispatcher = CollectingDispatcher()
    assert await form.validate_callback_phone("call me", dispatcher, tracker, domain) == {"callback_phone": None}
    assert "050-555-1234" in dispatcher.messages[0]["text"]
    # The phone on an order this conversation verified is taken without asking.
    order = pick(orders_where(backends, status="shipped"))
    tracker = make_tracker(domain, text="call me back", intent="request_callback",
                           slots={"order_id": order.order_id, "verified_email": order.email})
    found = await form.extract_callback_phone(CollectingDispatcher(), tracker, domain)
    assert found == {"callback_phone": order.phone.replace("-", "").replace(" ", "")}
    # ... and a number written in the request itself.
    tracker = make_tracker(domain, text="call me on 052-555-0000", intent="request_callback",
                           entities=[{"entity": "phone", "value": "052-555-0000"}])
    assert await form.extract_callback_phone(CollectingDispatcher(), tracker, domain) == {
        "callback_phone": "0525550000"}
    # Unverified and not written: asked.
    tracker = make_tracker(domain, text="call me back", intent="request_callback")
    assert await form.extract_callback_phone(CollectingDispatcher(), tracker, domain) == {}


async def test_the_request_is_filed_for_the_console_not_the_chat_queue(backends: Backends, redis_client: Any,
                                                                       domain: Dict[str, Any]) -> None:
    book = CallbackBook(redis_client, RedisKeys("test:ho:"))
    filing = Backends(**{**backends.__dict__, "callbacks": book,
                         "clock": lambda: datetime(2026, 11, 26, 9, 0, tzinfo=IL)})
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text="1", slots={"language": "he", "callback_phone": "0505551234",
                                                    "callback_time": "2026-11-29T08:00:00+02:00"},
                           sender_id="web:cb")
    events = await ActionCallbackRequest(filing).run(dispatcher, tracker, domain)
    [request] = await book.open_requests()
    assert (request.cid, request.phone, request.language) == ("web:cb", "0505551234", "he")
    assert request.preferred_at == datetime(2026, 11, 29, 8, 0, tzinfo=IL).timestamp()
    assert strip_controls(dispatcher.messages[0]["text"]) == (
        f"נרשם — נתקשר אליכם למספר 0505551234, יום ראשון, 08:00–10:00. מספר הפנייה: {request.callback_id}.")
    assert {e["name"]: e["value"] for e in events} == {"callback_phone": None, "callback_time": None}
    assert await redis_client.zcard(RedisKeys("test:ho:").queue()) == 0  # nobody was queued for a chat


async def test_a_rejected_answer_is_apologised_for_and_a_person_offered(backends: Backends,
                                                                        domain: Dict[str, Any]) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text="that's not what I asked", intent="answer_rejected")
    events: List[Dict[str, Any]] = await ActionAnswerRejected(backends).run(dispatcher, tracker, domain)
    assert dispatcher.messages[0]["text"].startswith("Sorry I missed that.")
    assert [b["payload"] for b in dispatcher.messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert {e["name"]: e["value"] for e in events} == {"human_offered": True, "human_offer_reason": "answer_rejected"}
