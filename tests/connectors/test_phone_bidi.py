"""Right to left on the chat apps (WhatsApp through the Twilio stand-in, Telegram through its stand-in):
a Hebrew agent message keeps its direction, and a Latin agent name never opens it."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from connectors.bidi_text import for_phone
from core.bidi import FSI, LRM, PDI, RLM, strip_controls
from handoff.identity import conversation_id
from handoff.state import HandoffStore
from tests.console.conftest import Service, hebrew_request, login

HEBREW_REPLY = "בדקתי: ההזמנה K-D901A7 יוצאת היום."


def _first_strong(text: str) -> str:
    """The first character that decides a line's direction in apps that guess it (RLM counts as right to left)."""
    for char in text:
        if char == RLM or "\u05d0" <= char <= "\u05ea":
            return "rtl"
        if char == LRM or char.isalpha():
            return "ltr"
    return ""


@pytest.fixture(params=["whatsapp", "telegram"])
def phone_channel(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue({"whatsapp": "whatsapp", "telegram": "telegram_channel"}[request.param])


async def test_a_hebrew_customer_reads_the_agent_right_to_left_with_the_hebrew_name(
    phone_channel: Any, console_service: Service, http: httpx.AsyncClient, live_store: HandoffStore
) -> None:
    app, customer = phone_channel
    cid = conversation_id(app.channel.name(), customer.address)
    await live_store.request(replace(hebrew_request(cid), channel=app.channel.name()))
    headers = {"X-CSRF-Token": await login(http, "dana")}
    await http.post("/console/api/presence", json={"status": "online"}, headers=headers)
    assert (await http.post(f"/console/api/chats/{quote(cid, safe='')}/take", headers=headers)).status_code == 200
    sent = await http.post(f"/console/api/chats/{quote(cid, safe='')}/messages", json={"text": HEBREW_REPLY},
                           headers=headers)
    assert sent.status_code == 201, sent.text
    joined, answer = [r.text for r in await customer.replies(2)]
    for text in (joined, answer):
        assert _first_strong(text) == "rtl", repr(text)
        assert FSI not in text and PDI not in text  # marks, which every app honours
    assert "דנה" in joined and "Dana" not in joined  # the agent's Hebrew display name (handoff/agents.yml)
    assert strip_controls(answer).lstrip("*").startswith("דנה")
    assert HEBREW_REPLY in strip_controls(answer)


def test_a_latin_name_goes_after_a_hebrew_text_and_before_an_english_one() -> None:
    hebrew = for_phone(f"ההזמנה {FSI}K-D901A7{PDI} בדרך.", author_name="Sarah", bold=lambda n: f"*{n}*")
    assert hebrew == f"{RLM}ההזמנה {RLM}K-D901A7{RLM} בדרך.\n{RLM}— *Sarah*"
    assert for_phone("Your order is on its way.", author_name="Sarah") == "Sarah: Your order is on its way."
    assert for_phone("היי", author_name="דנה") == f"{RLM}דנה: היי"
    assert for_phone("Order K-D901A7 ships today.") == "Order K-D901A7 ships today."
