"""The customer panel's order actions through real HTTP (the handoff service as a subprocess): CSRF, who may act,
malformed input, the confirmation step and the store's rules (#17)."""

from __future__ import annotations

import sqlite3
from typing import Dict, List, Tuple

import httpx
import pytest
from redis.asyncio import Redis

from core.settings import Settings
from handoff.models import HandoffRequest
from handoff.state import HandoffStore
from tests.console.conftest import Service, login, new_cid
from tests.helpers.event_rows import rows_of
from tests.helpers.texts import catalog
from tests.helpers.waiting import until


def _orders(service: Service) -> List[Dict[str, str]]:
    with sqlite3.connect(service.var_dir / "orders.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT order_id, email, status, customer_name FROM orders "
                                              "ORDER BY order_id")]


def _status(service: Service, order_id: str) -> str:
    with sqlite3.connect(service.var_dir / "orders.db") as conn:
        return str(conn.execute("SELECT status FROM orders WHERE order_id = ?", (order_id,)).fetchone()[0])


def _order_with(service: Service, processing: bool) -> Dict[str, str]:
    for order in _orders(service):
        if (order["status"] == "processing") == processing:
            return order
    pytest.fail("the seed has no such order")


async def _agent(service: Service, agent_id: str) -> Tuple[httpx.AsyncClient, Dict[str, str]]:
    client = httpx.AsyncClient(base_url=service.base_url, follow_redirects=False, timeout=15)
    csrf = await login(client, agent_id)
    headers = {"X-CSRF-Token": csrf}
    await client.post("/console/api/presence", json={"status": "online"}, headers=headers)
    return client, headers


async def _chat(store: HandoffStore, order: Dict[str, str]) -> str:
    cid = new_cid("act")
    await store.request(HandoffRequest(cid=cid, channel="web", language="en", reason="explicit_request",
                                       reference=f"K-{cid[-6:].upper()}", customer_name=order["customer_name"],
                                       email=order["email"], verified_order=order["order_id"]))
    return cid


def _path(cid: str) -> str:
    return f"/console/api/chats/{cid}/order-actions"


async def test_preview_then_confirm_cancels_an_unshipped_order(
    console_service: Service, live_store: HandoffStore, redis_client: Redis
) -> None:
    order = _order_with(console_service, processing=True)
    cid = await _chat(live_store, order)
    omer, h = await _agent(console_service, "omer")
    try:
        assert (await omer.post(f"/console/api/chats/{cid}/take", headers=h)).status_code == 200
        listed = (await omer.get(_path(cid))).json()["orders"]
        mine = {o["order_id"]: o for o in listed}[order["order_id"]]
        assert mine["actions"]["cancel_order"] is None  # allowed now

        body = {"action": "cancel_order", "order_id": order["order_id"]}
        preview = await omer.post(_path(cid), json=body, headers=h)
        assert preview.status_code == 200, preview.text
        assert order["order_id"] in preview.json()["preview"] and "Cancel" in preview.json()["preview"]
        assert _status(console_service, order["order_id"]) == "processing"  # the confirmation step changes nothing

        done = await omer.post(_path(cid), json={**body, "confirm": True}, headers=h)
        assert done.status_code == 201, done.text
        assert _status(console_service, order["order_id"]) == "cancelled"
        assert done.json()["action"]["kind"] == "cancel_order"
        again = (await omer.get(_path(cid))).json()["orders"]
        refusal = {o["order_id"]: o for o in again}[order["order_id"]]["actions"]["cancel_order"]
        assert "only an order that hasn't shipped" in refusal  # the same rule, now it is cancelled
        events = (await omer.get(f"/console/api/chats/{cid}/events")).json()["events"]
        assert any(e["kind"] == "note" and order["order_id"] in e["text"] for e in events)
        # The event log (the service's mover empties the stream into its database, so the test reads that).
        settings = Settings(var_dir=console_service.var_dir)
        [action] = await until(lambda: rows_of(settings, cid, ["agent_action"]), what="the agent_action row",
                               timeout=30)
        assert (action["agent"], action["reason"], action["topic"]) == ("omer", "cancel_order", order["order_id"])
    finally:
        await omer.aclose()


async def test_a_shipped_order_is_refused_with_the_reason(
    console_service: Service, live_store: HandoffStore, redis_client: Redis
) -> None:
    order = _order_with(console_service, processing=False)
    cid = await _chat(live_store, order)
    omer, h = await _agent(console_service, "omer")
    try:
        await omer.post(f"/console/api/chats/{cid}/take", headers=h)
        for confirm in (False, True):
            refused = await omer.post(_path(cid), json={"action": "cancel_order", "order_id": order["order_id"],
                                                        "confirm": confirm}, headers=h)
            assert refused.status_code == 409, refused.text
            assert "only an order that hasn't shipped" in refused.json()["error"]
            # the status by its name in the agent's language ("is on its way"), not its code ("is shipped")
            status = catalog().text(f"status_{order['status']}", "en")
            assert f"{order['order_id']} is {status}:" in refused.json()["error"]
        assert _status(console_service, order["order_id"]) == order["status"]
    finally:
        await omer.aclose()


async def test_without_the_csrf_token_nothing_happens(
    console_service: Service, live_store: HandoffStore, redis_client: Redis
) -> None:
    order = _order_with(console_service, processing=True)
    cid = await _chat(live_store, order)
    omer, h = await _agent(console_service, "omer")
    try:
        await omer.post(f"/console/api/chats/{cid}/take", headers=h)
        body = {"action": "cancel_order", "order_id": order["order_id"], "confirm": True}
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            response = await omer.post(_path(cid), json=body, headers=headers)
            assert response.status_code == 403, response.text
        assert _status(console_service, order["order_id"]) == "processing"
    finally:
        await omer.aclose()


async def test_another_agent_gets_403_and_a_supervisor_may_act(
    console_service: Service, live_store: HandoffStore, redis_client: Redis
) -> None:
    order = _order_with(console_service, processing=True)
    cid = await _chat(live_store, order)
    omer, h = await _agent(console_service, "omer")
    sarah, sh = await _agent(console_service, "sarah")
    dana, dh = await _agent(console_service, "dana")
    try:
        await omer.post(f"/console/api/chats/{cid}/take", headers=h)
        body = {"action": "store_credit", "order_id": order["order_id"], "amount": "10", "confirm": True}
        assert (await sarah.get(_path(cid))).status_code == 403
        refused = await sarah.post(_path(cid), json=body, headers=sh)
        assert refused.status_code == 403 and "supervisor" in refused.json()["error"]
        assert (await dana.post(_path(cid), json={**body, "confirm": False}, headers=dh)).status_code == 200
        done = await dana.post(_path(cid), json=body, headers=dh)
        assert done.status_code == 201 and done.json()["action"]["agent_id"] == "dana"
        with sqlite3.connect(console_service.var_dir / "orders.db") as conn:
            rows = conn.execute("SELECT amount, agent_id FROM store_credits WHERE code = ?",
                                (done.json()["action"]["code"],)).fetchall()
        assert rows == [(1000, "dana")]  # agorot
    finally:
        for client in (omer, sarah, dana):
            await client.aclose()


async def test_malformed_requests_get_4xx_with_a_reason(
    console_service: Service, live_store: HandoffStore, redis_client: Redis
) -> None:
    order = _order_with(console_service, processing=True)
    stranger = next(o for o in _orders(console_service) if o["email"] != order["email"])
    cid = await _chat(live_store, order)
    omer, h = await _agent(console_service, "omer")
    try:
        await omer.post(f"/console/api/chats/{cid}/take", headers=h)
        oid = order["order_id"]
        cases = [
            ({"action": "refund_card", "order_id": oid}, 400, "Choose an action"),
            ({"order_id": oid}, 400, "action"),
            ({"action": "cancel_order"}, 400, "order_id"),
            ({"action": "store_credit", "order_id": oid, "amount": "lots"}, 400, "amount"),
            ({"action": "store_credit", "order_id": oid, "amount": True}, 400, "amount"),
            ({"action": "store_credit", "order_id": oid, "amount": "-3"}, 400, "amount"),
            ({"action": "store_credit", "order_id": oid}, 400, "amount"),
            ({"action": "store_credit", "order_id": oid, "amount": "99999"}, 409, "at most"),
            ({"action": "change_address", "order_id": oid, "address": ""}, 400, "address"),
            ({"action": "change_address", "order_id": oid, "address": "x" * 301}, 413, ""),
            ({"action": "cancel_order", "order_id": oid, "confirm": "yes"}, 400, "confirm"),
            ({"action": "cancel_order", "order_id": stranger["order_id"]}, 404, "not one of this customer's"),
            ({"action": "cancel_order", "order_id": "999999"}, 404, "not one of this customer's"),
        ]
        for body, status, words in cases:
            response = await omer.post(_path(cid), json=body, headers=h)
            assert response.status_code == status, (body, response.status_code, response.text)
            assert words in response.json()["error"], (body, response.text)
        for raw in (b"not json", b"[1, 2]", b'{"action": '):
            response = await omer.post(_path(cid), content=raw, headers={**h, "Content-Type": "application/json"})
            assert 400 <= response.status_code < 500, (raw, response.text)
        assert (await omer.post(_path("no-such-chat"), json={"action": "cancel_order", "order_id": oid},
                                headers=h)).status_code == 404
        assert _status(console_service, oid) == "processing"
        assert _status(console_service, stranger["order_id"]) == stranger["status"]
    finally:
        await omer.aclose()
