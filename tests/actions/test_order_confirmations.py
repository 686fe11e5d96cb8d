"""Every order change the bot makes is confirmed by e-mail, to the order's address, in the customer's language,
as the bot says: the actions, the mail outbox on real Redis, the worker and a real SMTP server (aiosmtpd)."""

from __future__ import annotations

import re
from dataclasses import replace
from pathlib import Path
from typing import Any, Dict, List, Tuple

import pytest
from rasa_sdk.executor import CollectingDispatcher
from redis.asyncio import Redis

from actions.backends import Backends
from actions.order_task import ActionOrderTask
from actions.orders.domain import RETURN_WINDOW_DAYS
from core.bidi import strip_controls
from core.redis_keys import RedisKeys
from core.settings import Settings
from handoff.agents import AgentDirectory
from handoff.mail.orders import OrderMail
from handoff.mail.outbox import MailOutbox, MailWorker
from handoff.state import HandoffStore
from tests.helpers.backends import NOW, TEST_PREFIX, TODAY, orders_where, pick
from tests.helpers.smtp import SmtpSink
from tests.helpers.texts import catalog
from tests.helpers.trackers import make_tracker


@pytest.fixture()
def mailing(backends: Backends, redis_client: Redis, smtp_sink: SmtpSink,
            tmp_path: Path) -> Tuple[Backends, MailWorker]:
    keys = RedisKeys(TEST_PREFIX)
    outbox = MailOutbox(redis_client, keys, clock=NOW.timestamp)
    settings = Settings(var_dir=tmp_path, smtp_host="127.0.0.1", smtp_port=smtp_sink.port)
    worker = MailWorker(outbox, HandoffStore(redis_client, keys), AgentDirectory(agents={}), catalog(), settings,
                        orders=backends.orders)
    return replace(backends, order_mail=OrderMail(outbox)), worker


async def _run(backends: Backends, domain: Dict[str, Any], language: str = "en", **slots: Any) -> List[str]:
    dispatcher = CollectingDispatcher()
    order = await backends.orders.get(slots["order_id"])
    assert order is not None
    slots = {"contact": order.email, "verified_email": order.email, "order_task_allowed": True, "language": language,
             **slots}
    await ActionOrderTask(backends).run(dispatcher, make_tracker(domain, slots=slots), domain)
    return [m["text"] for m in dispatcher.messages]


def _plain(message: Any) -> str:
    return str(message.get_body(("plain",)).get_content())


async def test_a_cancellation_in_hebrew_is_confirmed_by_a_hebrew_mail_as_the_bot_says(mailing, domain, smtp_sink):
    backends, worker = mailing
    order = pick(orders_where(backends, status="processing"), seed=3)
    [said] = await _run(backends, domain, "he", order_id=order.order_id, order_task="cancel", cancel_confirmed=True)
    assert "אישור נשלח במייל" in said
    assert await worker.run_once() == 1
    [mail] = smtp_sink.messages
    assert smtp_sink.envelopes == [[order.email]]
    assert strip_controls(mail["Subject"]) == f"הזמנה {order.order_id} בוטלה"
    assert mail["Content-Language"] == "he"
    assert 'dir="rtl"' in str(mail.get_body(("html",)).get_content())
    assert f"הזמנה {order.order_id} בוטלה" in strip_controls(_plain(mail)) and "₪" in _plain(mail)


async def test_an_address_change_is_confirmed_with_the_new_address_once(mailing, domain, smtp_sink):
    backends, worker = mailing
    order = pick(orders_where(backends, status="processing", language="en"), seed=4)
    new = "Herzl 12, Haifa"
    [said] = await _run(backends, domain, order_id=order.order_id, order_task="change_address", new_address=new)
    assert "A confirmation is on its way by e-mail" in said
    # Rasa retries an action whose answer got lost: the change and its mail happen once.
    await _run(backends, domain, order_id=order.order_id, order_task="change_address", new_address=new)
    assert await worker.run_once() == 1
    [mail] = smtp_sink.messages
    assert mail["Subject"] == f"New delivery address for order {order.order_id}"
    assert f"will be delivered to: {new}" in _plain(mail)


async def test_a_return_is_confirmed_with_its_reference(mailing, domain, smtp_sink):
    backends, worker = mailing
    recent = [o for o in orders_where(backends, status="delivered", language="en")
              if o.delivered_at is not None and (TODAY - o.delivered_at.date()).days <= RETURN_WINDOW_DAYS]
    order = pick(recent)
    [said] = await _run(backends, domain, order_id=order.order_id, order_task="return", return_reason="Wrong size")
    rma = re.search(r"R\d{6}-[0-9A-F]{4}", said)
    assert rma and "on their way by e-mail" in said
    assert await worker.run_once() == 1
    [mail] = smtp_sink.messages
    assert rma.group(0) in _plain(mail) and mail["Subject"] == f"Your return of order {order.order_id} is open"


async def test_a_change_refused_by_the_store_mails_nothing(mailing, domain, smtp_sink):
    backends, worker = mailing
    order = pick(orders_where(backends, status="shipped"))
    [said] = await _run(backends, domain, order_id=order.order_id, order_task="cancel", cancel_confirmed=True)
    assert "can't be cancelled" in said
    assert await worker.run_once() == 0 and smtp_sink.messages == []


async def test_a_confirmation_whose_change_was_undone_meanwhile_is_dropped(mailing, smtp_sink):
    backends, worker = mailing
    order = pick(orders_where(backends, status="processing"), seed=5)
    assert backends.order_mail is not None
    # Queued as if the order had been cancelled, but the store still has it open: the mail would lie.
    await backends.order_mail.confirm_change(order.order_id, "cancelled", language="en", details={"total": "₪1"})
    assert await worker.run_once() == 0
    assert smtp_sink.messages == []
    assert await worker.pending() == []


async def test_an_agent_action_is_confirmed_with_its_own_summary(mailing, smtp_sink):
    backends, worker = mailing
    order = pick(orders_where(backends, status="delivered", language="en"))
    assert backends.order_mail is not None
    summary = "We added ₪50 store credit to your account for the delay."
    assert await backends.order_mail.confirm_change(order.order_id, "store_credit", language="en",
                                                    cid="web:abc", details={"summary": summary})
    assert not await backends.order_mail.confirm_change(order.order_id, "store_credit", language="en",
                                                        cid="web:abc", details={"summary": summary})
    assert await worker.run_once() == 1
    [mail] = smtp_sink.messages
    assert mail["Subject"] == f"An update to order {order.order_id}" and summary in _plain(mail)
