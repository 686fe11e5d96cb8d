"""The closing e-mail states what agents actually did in the chat (#17), whatever resolution code was chosen.

Real Redis, the seeded SQL orders store, the agent-action service and the mail
worker sending to a real SMTP server (aiosmtpd) on loopback.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from actions.orders.agent_service import ActionRequest
from core.processes import free_port
from core.redis_keys import RedisKeys
from core.settings import Settings
from handoff.agent_actions import AgentActionKind
from tests.helpers.agent_actions import OrdersChat, orders_chat
from tests.helpers.redis_server import RedisServer
from tests.helpers.smtp import SmtpSink
from tests.helpers.texts import catalog
from wiring.container import Container


@pytest_asyncio.fixture()
async def container(redis_server: RedisServer, redis_client: Redis, smtp_sink: SmtpSink,
                    tmp_path: Path) -> AsyncIterator[Container]:
    settings = Settings(var_dir=tmp_path, orders_db_url=f"sqlite:///{tmp_path / 'orders.db'}",
                        smtp_host="127.0.0.1", smtp_port=smtp_sink.port,
                        ).with_ports(redis=redis_server.port, rasa=free_port(), actions=free_port())
    built = Container(settings)
    built.keys = RedisKeys(f"close-{uuid.uuid4().hex[:6]}:")  # a prefix of its own
    try:
        yield built
    finally:
        await built.close()


def _text(msg: EmailMessage) -> str:
    plain, rich = msg.get_body(("plain",)), msg.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(rich, EmailMessage)
    return plain.get_content() + "\n" + rich.get_content()


async def _close_and_send(chat: OrdersChat, resolution: str, smtp_sink: SmtpSink) -> str:
    omer = chat.agent("omer")
    await chat.container.desk.close(chat.cid, omer, resolution, summary="", next_steps="")
    assert await chat.container.mail_worker().run_once() >= 1
    [msg] = [m for m in smtp_sink.messages if m["X-Kesher-Kind"] == "closing"]
    return _text(msg)


@pytest.mark.parametrize("language", ["en", "he"])
async def test_closing_mail_names_the_credit_and_promises_no_card_refund(
    container: Container, smtp_sink: SmtpSink, language: str
) -> None:
    chat = await orders_chat(container, language=language)
    record = await container.order_actions.perform(
        chat.cid, chat.agent("omer"),
        ActionRequest(AgentActionKind.STORE_CREDIT, chat.processing.order_id, amount=Decimal("40")),
    )
    # The agent picks "refund issued" although no card was refunded: the mail must not say one was.
    body = await _close_and_send(chat, "refund_issued", smtp_sink)
    texts = catalog()
    assert record.code in body
    assert chat.processing.order_id in body
    assert "40" in body
    assert texts.text("mail_resolution_refund_issued", language) not in body
    refund_words = {"en": "We've issued a refund", "he": "ביצענו עבורכם החזר כספי"}[language]
    assert refund_words not in body
    assert {"en": "not a refund to your card", "he": "לא החזר לכרטיס האשראי"}[language] in body
    assert texts.text("mail_closing_actions_heading", language) in body


async def test_closing_mail_lists_each_change_and_an_honest_order_changed(
    container: Container, smtp_sink: SmtpSink
) -> None:
    chat = await orders_chat(container)
    omer = chat.agent("omer")
    await container.order_actions.perform(chat.cid, omer, ActionRequest(
        AgentActionKind.CHANGE_ADDRESS, chat.processing.order_id, address="Herzl 12, Haifa"))
    await container.order_actions.perform(chat.cid, omer, ActionRequest(
        AgentActionKind.CANCEL_ORDER, chat.processing.order_id))
    body = await _close_and_send(chat, "order_changed", smtp_sink)
    texts = catalog()
    assert texts.text("mail_action_change_address", "en", order=chat.processing.order_id,
                      address="Herzl 12, Haifa") in body
    assert texts.text("mail_action_cancel_order", "en", order=chat.processing.order_id) in body
    assert texts.text("mail_resolution_order_changed", "en") in body  # backed by what was done


async def test_a_code_claiming_a_change_nobody_made_is_not_repeated(container: Container, smtp_sink: SmtpSink) -> None:
    chat = await orders_chat(container)
    body = await _close_and_send(chat, "order_changed", smtp_sink)
    texts = catalog()
    assert texts.text("mail_resolution_order_changed", "en") not in body
    assert texts.text("mail_resolution_generic", "en") in body
    assert texts.text("mail_closing_actions_heading", "en") not in body
