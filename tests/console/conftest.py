"""Helpers of the console's HTTP, websocket and browser tests.

The handoff service they talk to (``console_service``, ``http``, ``live_store``) is in
tests/helpers/handoff_service.py, registered once in tests/conftest.py.
"""

from __future__ import annotations

import uuid
from typing import Dict, List

import httpx

from handoff.models import HandoffRequest
from tests.helpers.handoff_service import PASSWORD, WRITER, Service

__all__ = ["PASSWORD", "WRITER", "Service", "english_request", "hebrew_request", "login", "new_cid", "outbound_texts"]


def new_cid(prefix: str = "test") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def hebrew_request(cid: str, order: Dict[str, str] | None = None) -> HandoffRequest:
    order = order or {}
    return HandoffRequest(
        cid=cid,
        channel="web",
        language="he",
        reason="complaint_frustration",
        reference=f"K-{cid[-6:].upper()}",
        priority=2,
        topic="orders",
        customer_name=order.get("customer_name", "נועה כהן"),
        email=order.get("email", ""),
        phone=order.get("phone", ""),
        verified_order=order.get("order_id", ""),
        asked=["איפה ההזמנה שלי?", "כבר פעם שלישית שאני שואלת, נמאס!"],
        found=[f"הזמנה {order.get('order_id', '104233')}: בדרך, באיחור של 3 ימים"],
    )


def english_request(cid: str, order: Dict[str, str] | None = None) -> HandoffRequest:
    order = order or {}
    return HandoffRequest(
        cid=cid,
        channel="telegram",
        language="en",
        reason="explicit_request",
        reference=f"K-{cid[-6:].upper()}",
        priority=1,
        topic="returns",
        customer_name=order.get("customer_name", "James Miller"),
        email=order.get("email", ""),
        phone=order.get("phone", ""),
        verified_order=order.get("order_id", ""),
        asked=["The blender arrived broken, can I return it?", "I want to talk to a person"],
        found=[f"Order {order.get('order_id', '104871')}: delivered 2 days ago"],
    )


async def login(client: httpx.AsyncClient, agent_id: str = "dana", password: str = PASSWORD,
                landing: str = "/console") -> str:
    """Logs in through the form; returns the session's CSRF token (read from the ``landing`` page)."""
    page = await client.get("/console/login")
    token = _hidden(page.text, "csrf_token")
    response = await client.post("/console/login", data={"agent_id": agent_id, "password": password,
                                                          "csrf_token": token})
    assert response.status_code == 303, response.text
    desk = await client.get(landing)
    assert desk.status_code == 200, desk.text
    return _meta(desk.text, "csrf-token")


def _hidden(html: str, name: str) -> str:
    marker = f'name="{name}" value="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def _meta(html: str, name: str) -> str:
    marker = f'<meta name="{name}" content="'
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


def outbound_texts(entries: List) -> List[str]:
    return [fields["text"] for _, fields in entries]
