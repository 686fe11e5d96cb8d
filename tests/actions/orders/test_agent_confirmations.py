"""An agent's action on an order is confirmed by the same e-mail as the bot's changes (#17), at once: to the
order's own address, in the customer's language. Real Redis, the seeded SQL orders store, the agent-action
service, the mail worker and a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import AsyncIterator, List

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from actions.orders.agent_service import ActionRequest
from core.bidi import strip_controls
from core.errors import Conflict
from handoff.agent_actions import AgentActionKind
from tests.helpers.agent_actions import orders_chat
from tests.helpers.containers import orders_settings, running_container
from tests.helpers.redis_server import RedisServer
from tests.helpers.smtp import SmtpSink
from tests.helpers.texts import catalog
from wiring.container import Container

CANCEL, ADDRESS, CREDIT = AgentActionKind.CANCEL_ORDER, AgentActionKind.CHANGE_ADDRESS, AgentActionKind.STORE_CREDIT


@pytest_asyncio.fixture()
async def container(redis_server: RedisServer, redis_client: Redis, smtp_sink: SmtpSink,
                    tmp_path: Path) -> AsyncIterator[Container]:
    settings = orders_settings(tmp_path, redis_server.port, smtp_sink.port, store_credit_limit=Decimal("80"))
    async with running_container(settings, "confirm") as built:
        yield built


def _order_mails(sink: SmtpSink) -> List[EmailMessage]:
    """The order mails sent (the handoff's own summary mail aside)."""
    return [m for m in sink.messages if str(m["X-Kesher-Kind"]).startswith("order_")]


def _plain(message: EmailMessage) -> str:
    body = message.get_body(("plain",))
    assert isinstance(body, EmailMessage)
    return strip_controls(body.get_content())


async def test_an_agents_cancellation_is_mailed_as_the_bots_in_hebrew_to_the_orders_address(
    container: Container, smtp_sink: SmtpSink
) -> None:
    chat = await orders_chat(container, language="he")
    order = chat.processing
    await container.order_actions.perform(chat.cid, chat.agent("omer"), ActionRequest(CANCEL, order.order_id))
    await container.mail_worker().run_once()  # at once, not when the chat closes
    [mail] = _order_mails(smtp_sink)
    assert mail["To"].addresses[0].addr_spec == order.email
    assert mail["X-Kesher-Kind"] == "order_cancelled" and mail["Content-Language"] == "he"
    # The bot's own wording (tests/actions/test_order_confirmations.py): subject and body.
    assert strip_controls(mail["Subject"]) == strip_controls(
        catalog().text("mail_order_cancelled_subject", "he", order_id=order.order_id))
    body = _plain(mail)
    assert f"הזמנה {order.order_id} בוטלה" in body and "₪" in body
    [event] = [e for e in await chat.service_events() if e.kind == "email_sent" and e.reason == "order_change"]
    assert event.conversation == chat.cid


async def test_an_agents_address_change_is_mailed_with_the_new_address_once(
    container: Container, smtp_sink: SmtpSink
) -> None:
    chat = await orders_chat(container, language="en")
    order = chat.processing
    await container.order_actions.perform(chat.cid, chat.agent("omer"),
                                          ActionRequest(ADDRESS, order.order_id, address="  Herzl 12,   Haifa "))
    await container.mail_worker().run_once()
    assert await container.mail_worker().run_once() == 0  # nothing else queued
    [mail] = _order_mails(smtp_sink)
    assert mail["To"].addresses[0].addr_spec == order.email
    assert mail["Subject"] == f"New delivery address for order {order.order_id}"
    assert f"order {order.order_id} will be delivered to: Herzl 12, Haifa." in _plain(mail)


@pytest.mark.parametrize("language", ["en", "he"])
async def test_each_store_credit_is_mailed_with_its_code_and_no_card_refund(
    container: Container, smtp_sink: SmtpSink, language: str
) -> None:
    chat = await orders_chat(container, language=language)
    order = chat.processing
    omer = chat.agent("omer")
    first = await container.order_actions.perform(chat.cid, omer,
                                                  ActionRequest(CREDIT, order.order_id, amount=Decimal("30")))
    second = await container.order_actions.perform(chat.cid, omer,
                                                   ActionRequest(CREDIT, order.order_id, amount=Decimal("20")))
    await container.mail_worker().run_once()
    mails = _order_mails(smtp_sink)  # two credits, two codes, two mails
    assert [m["X-Kesher-Kind"] for m in mails] == ["order_store_credit"] * 2
    assert all(m["Content-Language"] == language for m in mails)
    texts = catalog()
    subject = strip_controls(texts.text("mail_order_changed_subject", language, order_id=order.order_id))
    assert {strip_controls(m["Subject"]) for m in mails} == {subject}
    bodies = [_plain(m) for m in mails]
    assert sorted(code for code in (first.code, second.code) for body in bodies if code in body) == sorted(
        [first.code, second.code])
    not_a_refund = {"en": "not a refund to your card", "he": "לא החזר לכרטיס האשראי"}[language]
    assert all(not_a_refund in body for body in bodies)


async def test_a_refused_action_mails_nothing(container: Container, smtp_sink: SmtpSink) -> None:
    chat = await orders_chat(container)
    with pytest.raises(Conflict):
        await container.order_actions.perform(chat.cid, chat.agent("omer"),
                                              ActionRequest(CANCEL, chat.shipped.order_id))
    await container.mail_worker().run_once()  # the handoff's summary, if any
    assert _order_mails(smtp_sink) == []
