"""The actions' side of trusting an e-mail: only the order's own address is verified, and linking is announced."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk.executor import CollectingDispatcher

from actions.backends import Backends
from actions.handoff import ActionHandoff
from actions.order_form import ValidateOrderForm
from handoff.desk import Desk
from tests.helpers.backends import orders_where, pick
from tests.helpers.trackers import make_tracker, user_event


def _desk(backends: Backends) -> Desk:
    desk = backends.handoff
    assert isinstance(desk, Desk)
    return desk


async def _outbound(desk: Desk) -> List[Dict[str, str]]:
    return [fields for _, fields in await desk.store.redis.xrange(desk.store.keys.outbound())]


async def test_an_email_in_the_slots_without_its_order_is_not_trusted(backends: Backends,
                                                                      domain: Dict[str, Any]) -> None:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text="agent", intent="human_handoff", sender_id="cust-x",
                           slots={"language": "en", "verified_email": "victim@example.org"})
    await ActionHandoff(backends).run(dispatcher, tracker, domain)
    desk = _desk(backends)
    conv = await desk.store.get("cust-x")
    assert conv is not None and conv.email == "" and conv.email_unverified == "victim@example.org"
    assert "write your e-mail address here" in dispatcher.messages[-1]["text"]  # asked, so a code can follow
    assert await desk.store.redis.zrange(desk.store.keys.mail_due(), 0, -1) == []


async def test_the_orders_own_address_is_verified_and_gets_the_summary(backends: Backends,
                                                                       domain: Dict[str, Any]) -> None:
    order = pick(orders_where(backends, status="delayed", language="he"))
    tracker = make_tracker(domain, text="נציג", intent="human_handoff", sender_id="cust-he",
                           slots={"language": "he", "order_id": order.order_id, "verified_email": order.email})
    await ActionHandoff(backends).run(CollectingDispatcher(), tracker, domain)
    desk = _desk(backends)
    conv = await desk.store.get("cust-he")
    assert conv is not None and conv.email == order.email and conv.email_unverified == ""
    assert await desk.identity.is_verified("cust-he", order.email)
    assert len(await desk.store.redis.zrange(desk.store.keys.mail_due(), 0, -1)) == 1


async def test_verifying_on_whatsapp_tells_the_customer_on_the_web_chat(backends: Backends,
                                                                        domain: Dict[str, Any]) -> None:
    order = pick(orders_where(backends, language="en"))
    action = ValidateOrderForm(backends)
    for sender, channel in (("web:session-1", "web"), ("whatsapp:+972501234567", "whatsapp")):
        tracker = make_tracker(domain, slots={"order_id": order.order_id, "language": "en"}, sender_id=sender,
                               events=[user_event(order.email, "inform", channel=channel)])
        await action.validate_contact(order.email, CollectingDispatcher(), tracker, domain)
    notices = [m for m in await _outbound(_desk(backends)) if m["cid"] == "web:session-1"]
    assert [(m["channel"], m["kind"]) for m in notices] == [("web", "system")]
    assert "continued on WhatsApp" in notices[0]["text"]
