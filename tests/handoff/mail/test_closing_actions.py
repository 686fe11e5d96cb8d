"""The closing e-mail states what agents actually did in the chat (#17), whatever resolution code was chosen.

Real Redis, the seeded SQL orders store, the agent-action service and the mail
worker sending to a real SMTP server (aiosmtpd) on loopback.
"""

from __future__ import annotations

from decimal import Decimal
from email.message import EmailMessage
from pathlib import Path
from typing import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from actions.orders.agent_service import ActionRequest
from core.errors import InvalidInput
from handoff.agent_actions import AgentActionKind
from handoff.mail.compose import ACTION_CLAIMS
from tests.helpers.agent_actions import OrdersChat, orders_chat
from tests.helpers.containers import orders_settings, running_container
from tests.helpers.redis_server import RedisServer
from tests.helpers.smtp import SmtpSink
from tests.helpers.texts import catalog
from wiring.container import Container


@pytest_asyncio.fixture()
async def container(redis_server: RedisServer, redis_client: Redis, smtp_sink: SmtpSink,
                    tmp_path: Path) -> AsyncIterator[Container]:
    async with running_container(orders_settings(tmp_path, redis_server.port, smtp_sink.port), "close") as built:
        yield built


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
    body = await _close_and_send(chat, "resolved", smtp_sink)
    texts = catalog()
    assert record.code in body
    assert chat.processing.order_id in body
    assert "40" in body
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


# What the closing e-mail says for each code of the close form when the chat's audit shows no action: only what
# something did. "replacement_sent" stays a code for the records (an agent may arrange one outside Kesher), but no
# action of Kesher sends a replacement, so the mail never claims one; "order_changed" needs a change (above).
OUTCOME_WITHOUT_ACTIONS = {
    "resolved": "mail_resolution_resolved",
    "replacement_sent": "mail_resolution_generic",
    "order_changed": "mail_resolution_generic",
    "escalated": "mail_resolution_escalated",
    "no_reply": "mail_resolution_no_reply",
    "duplicate": "mail_resolution_duplicate",
}


def test_every_code_of_the_close_form_has_a_decided_outcome_line(container: Container) -> None:
    assert list(container.policy.resolution_codes) == list(OUTCOME_WITHOUT_ACTIONS)
    assert "refund_issued" not in container.policy.resolution_codes  # nothing in Kesher refunds a card
    texts = catalog()
    assert "mail_resolution_refund_issued" not in texts and "mail_resolution_replacement_sent" not in texts
    assert "console_resolution_refund_issued" not in texts
    for code, backing in ACTION_CLAIMS.items():  # a claim backed by nothing is never worded
        assert backing or f"mail_resolution_{code}" not in texts


@pytest.mark.parametrize("resolution", list(OUTCOME_WITHOUT_ACTIONS))
async def test_the_closing_mail_of_each_code_says_only_what_was_done(
    container: Container, smtp_sink: SmtpSink, resolution: str
) -> None:
    chat = await orders_chat(container)
    body = await _close_and_send(chat, resolution, smtp_sink)
    texts = catalog()
    expected = OUTCOME_WITHOUT_ACTIONS[resolution]
    assert texts.text(expected, "en") in body
    others = {key for key in OUTCOME_WITHOUT_ACTIONS.values() if key != expected}
    assert not any(texts.text(key, "en") in body for key in others)
    assert "replacement" not in body.lower() and "refund" not in body.lower()
    assert texts.text("mail_closing_actions_heading", "en") not in body


async def test_refund_issued_is_refused_when_closing(container: Container) -> None:
    chat = await orders_chat(container)
    with pytest.raises(InvalidInput):
        await container.desk.close(chat.cid, chat.agent("omer"), "refund_issued", summary="", next_steps="")
    conv = await container.store.get(chat.cid)
    assert conv is not None and conv.state.value == "with_agent"
