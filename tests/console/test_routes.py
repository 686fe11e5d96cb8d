"""The console's JSON API against the running service: validation, ownership, the chat flow."""

from __future__ import annotations

import json

import httpx
from redis.asyncio import Redis

from core.redis_keys import RedisKeys
from handoff.models import Event, EventKind
from handoff.state import HandoffStore
from tests.console.conftest import Service, english_request, hebrew_request, login, new_cid
from tests.helpers.console import console_socket, next_frame


async def _agent(console_service: Service, agent_id: str) -> tuple[httpx.AsyncClient, str]:
    client = httpx.AsyncClient(base_url=console_service.base_url, follow_redirects=False, timeout=15)
    csrf = await login(client, agent_id)
    await client.post("/console/api/presence", json={"status": "online"}, headers={"X-CSRF-Token": csrf})
    return client, csrf


async def test_queue_take_send_close(console_service: Service, live_store: HandoffStore, redis_client: Redis):
    dana, csrf = await _agent(console_service, "dana")
    omer, omer_csrf = await _agent(console_service, "omer")
    h = {"X-CSRF-Token": csrf}
    try:
        cid = new_cid("api")
        await live_store.request(english_request(cid, console_service.orders.get("en")))

        queue = (await dana.get("/console/api/queue")).json()["queue"]
        row = next(r for r in queue if r["cid"] == cid)
        assert row["language"] == "en" and row["channel"] == "telegram" and row["reason"] == "explicit_request"
        assert row["waiting_seconds"] >= 0

        # anyone may look at a waiting conversation before taking it
        assert (await omer.get(f"/console/api/chats/{cid}")).json()["conversation"]["state"] == "queued"

        taken = await dana.post(f"/console/api/chats/{cid}/take", headers=h)
        assert taken.status_code == 200, taken.text
        assert taken.json()["conversation"]["mine"] is True
        again = await dana.post(f"/console/api/chats/{cid}/take", headers=h)  # idempotent for the owner
        assert again.status_code == 200

        late = await omer.post(f"/console/api/chats/{cid}/take", headers={"X-CSRF-Token": omer_csrf})
        assert late.status_code == 409
        assert "Dana Levi already took this conversation" in late.json()["error"]
        assert (await omer.get(f"/console/api/chats/{cid}")).status_code == 403
        foreign = await omer.post(f"/console/api/chats/{cid}/messages", json={"text": "hi"},
                                  headers={"X-CSRF-Token": omer_csrf})
        assert foreign.status_code == 403

        chats = (await dana.get("/console/api/chats")).json()["chats"]
        assert [c["cid"] for c in chats] == [cid]

        before = len(await redis_client.xrange(RedisKeys().outbound()))
        sent = await dana.post(f"/console/api/chats/{cid}/messages", json={"text": "Sorry about the blender!"},
                               headers=h)
        assert sent.status_code == 201, sent.text
        event = sent.json()["event"]
        assert event["kind"] == "agent" and event["stream_id"] and event["author_name"] == "Dana"
        outbound = await redis_client.xrange(RedisKeys().outbound())
        mine = [f for _, f in outbound[before:] if f["text"] == "Sorry about the blender!"]
        assert len(mine) == 1
        assert mine[0]["message_id"] == event["message_id"] and mine[0]["cid"] == cid

        note = await dana.post(f"/console/api/chats/{cid}/notes", json={"text": "Customer is a repeat buyer"},
                               headers=h)
        assert note.status_code == 201
        assert len(await redis_client.xrange(RedisKeys().outbound())) == len(outbound)  # notes never go out

        events = (await dana.get(f"/console/api/chats/{cid}/events")).json()["events"]
        kinds = [e["kind"] for e in events]
        assert kinds[0] == "state" and "agent" in kinds and "note" in kinds
        after = events[-2]["stream_id"]
        tail = (await dana.get(f"/console/api/chats/{cid}/events", params={"after": after})).json()["events"]
        assert [e["stream_id"] for e in tail] == [events[-1]["stream_id"]]

        assert (await dana.post(f"/console/api/chats/{cid}/typing", headers=h)).status_code == 204

        closed = await dana.post(f"/console/api/chats/{cid}/close", headers=h, json={
            "resolution": "replacement_sent", "summary": "A new blender ships today.",
            "next_steps": "Tracking number by SMS.",
        })
        assert closed.status_code == 200, closed.text
        conv = await live_store.get(cid)
        assert conv is not None and conv.state == "closed" and conv.resolution == "replacement_sent"
        assert conv.summary == "A new blender ships today."
        assert (await dana.get("/console/api/chats")).json()["chats"] == []
        twice = await dana.post(f"/console/api/chats/{cid}/close", headers=h, json={"resolution": "resolved"})
        assert twice.status_code == 409
    finally:
        await dana.aclose()
        await omer.aclose()


async def test_bad_input_is_4xx_never_500(console_service: Service, live_store: HandoffStore, redis_client: Redis):
    dana, csrf = await _agent(console_service, "dana")
    h = {"X-CSRF-Token": csrf}
    try:
        cid = new_cid("bad")
        await live_store.request(hebrew_request(cid))
        assert (await dana.post(f"/console/api/chats/{cid}/take", headers=h)).status_code == 200

        cases = [
            (f"/console/api/chats/{cid}/messages", {}, 400, "'text' is required"),
            (f"/console/api/chats/{cid}/messages", {"text": "   "}, 400, "'text' is required"),
            (f"/console/api/chats/{cid}/messages", {"text": 42}, 400, "must be a string"),
            (f"/console/api/chats/{cid}/messages", {"text": "א" * 4001}, 413, "at most 4000"),
            (f"/console/api/chats/{cid}/notes", {"text": "x" * 4001}, 413, "at most 4000"),
            ("/console/api/chats/no-such-chat/messages", {"text": "hi"}, 404, "no conversation"),
            ("/console/api/chats/no-such-chat/take", {}, 404, "no conversation"),
            (f"/console/api/chats/{cid}/close", {"resolution": "made_up"}, 400, "resolution must be one of"),
            (f"/console/api/chats/{cid}/close", {}, 400, "'resolution' is required"),
            (f"/console/api/chats/{cid}/transfer", {}, 400, "either an agent or a team"),
            (f"/console/api/chats/{cid}/transfer", {"to_agent": "dana"}, 400, "another agent"),
            (f"/console/api/chats/{cid}/transfer", {"to_agent": "nobody"}, 404, "no agent"),
            (f"/console/api/chats/{cid}/transfer", {"to_team": "nowhere"}, 404, "no team"),
            ("/console/api/presence", {"status": "sleeping"}, 400, "online"),
        ]
        for path, body, status, message in cases:
            response = await dana.post(path, json=body, headers=h)
            assert response.status_code == status, (path, body, response.text)
            assert message in response.json()["error"], (path, body, response.text)

        not_json = await dana.post(f"/console/api/chats/{cid}/messages", content=b"{oops", headers=h)
        assert not_json.status_code == 400
        a_list = await dana.post(f"/console/api/chats/{cid}/messages", json=["hi"], headers=h)
        assert a_list.status_code == 400
        huge = await dana.post(f"/console/api/chats/{cid}/messages", content=b"x" * 100_000, headers=h)
        assert huge.status_code == 413
        bad_after = await dana.get(f"/console/api/chats/{cid}/events", params={"after": "yesterday"})
        assert bad_after.status_code == 400
        odd_cid = await dana.get("/console/api/chats/%3Cscript%3E")
        assert odd_cid.status_code == 404
    finally:
        await dana.aclose()


async def test_transfer_to_a_colleague(console_service: Service, live_store: HandoffStore, redis_client: Redis):
    dana, csrf = await _agent(console_service, "dana")
    omer, omer_csrf = await _agent(console_service, "omer")
    try:
        cid = new_cid("xfer")
        await live_store.request(hebrew_request(cid))
        await dana.post(f"/console/api/chats/{cid}/take", headers={"X-CSRF-Token": csrf})
        moved = await dana.post(f"/console/api/chats/{cid}/transfer", json={"to_agent": "omer"},
                                headers={"X-CSRF-Token": csrf})
        assert moved.status_code == 200, moved.text
        queue = (await omer.get("/console/api/queue")).json()["queue"]
        assert next(r for r in queue if r["cid"] == cid)["target_agent"] == "omer"
        taken = await omer.post(f"/console/api/chats/{cid}/take", headers={"X-CSRF-Token": omer_csrf})
        assert taken.status_code == 200, taken.text
        conv = await live_store.get(cid)
        assert conv is not None and conv.agent_id == "omer"
    finally:
        await dana.aclose()
        await omer.aclose()


async def test_transcript_degrades_and_panel_shows_orders(
    console_service: Service, live_store: HandoffStore, redis_client: Redis
):
    dana, csrf = await _agent(console_service, "dana")
    try:
        order = console_service.orders["he"]
        cid = new_cid("panel")
        await live_store.request(hebrew_request(cid, order))
        await dana.post(f"/console/api/chats/{cid}/take", headers={"X-CSRF-Token": csrf})
        transcript = await dana.get(f"/console/api/chats/{cid}/transcript")
        assert transcript.status_code == 200
        assert transcript.json()["available"] is False

        panel = (await dana.get(f"/console/api/chats/{cid}/panel")).json()
        assert panel["verified"] is True and panel["verified_order"] == order["order_id"]
        assert panel["orders_available"] is True
        assert order["order_id"] in [o["order_id"] for o in panel["orders"]]
        assert panel["asked"][0] == "איפה ההזמנה שלי?"
    finally:
        await dana.aclose()


async def test_customer_events_reach_the_api(console_service: Service, live_store: HandoffStore, redis_client: Redis):
    dana, csrf = await _agent(console_service, "dana")
    try:
        cid = new_cid("evt")
        await live_store.request(english_request(cid))
        await dana.post(f"/console/api/chats/{cid}/take", headers={"X-CSRF-Token": csrf})
        sid = await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, text="Still there?", author="customer"))
        events = (await dana.get(f"/console/api/chats/{cid}/events")).json()["events"]
        assert events[-1]["stream_id"] == sid and events[-1]["text"] == "Still there?"
    finally:
        await dana.aclose()


DEEP = 5000


async def test_json_nested_5000_deep_is_refused_with_4xx_on_every_console_route(
    console_service: Service, live_store: HandoffStore, redis_client: Redis
):
    dana, csrf = await _agent(console_service, "dana")
    h = {"X-CSRF-Token": csrf, "Content-Type": "application/json"}
    try:
        cid = new_cid("deep")
        await live_store.request(hebrew_request(cid))
        assert (await dana.post(f"/console/api/chats/{cid}/take", headers=h)).status_code == 200
        bodies = [
            ("[" * DEEP + "]" * DEEP).encode(),
            ('{"text": ' + "[" * DEEP + "]" * DEEP + "}").encode(),
            ('{"a": ' * DEEP + "1" + "}" * DEEP).encode(),
        ]
        routes = [f"/console/api/chats/{cid}/{action}" for action in ("messages", "notes", "typing", "transfer",
                                                                      "close", "take")]
        for path in [*routes, "/console/api/presence"]:
            for body in bodies:
                response = await dana.post(path, content=body, headers=h)
                assert 400 <= response.status_code < 500, (path, body[:20], response.status_code, response.text)
                assert response.json()["error"], path
        # the conversation is as it was: nothing half-done
        assert (await dana.get(f"/console/api/chats/{cid}")).json()["conversation"]["state"] == "with_agent"
        assert [e for e in (await dana.get(f"/console/api/chats/{cid}/events")).json()["events"]
                if e["kind"] in ("agent", "note")] == []
    finally:
        await dana.aclose()


async def test_a_deeply_nested_frame_on_the_console_socket_is_ignored(
    console_service: Service, redis_client: Redis
):
    client = httpx.AsyncClient(base_url=console_service.base_url, follow_redirects=False, timeout=15)
    try:
        await login(client, "dana")
        ws = await console_socket(console_service.base_url, str(client.cookies.get("kesher_session")))
        try:
            await ws.send("[" * DEEP + "]" * DEEP)
            await ws.send('{"type": "watch", "cid": ' + "[" * DEEP + "]" * DEEP + "}")
            await ws.send(json.dumps({"type": "watch", "cid": ""}))  # the marker: the socket still answers
            assert (await next_frame(ws, lambda m: m["type"] == "watching"))["cid"] == ""
        finally:
            await ws.close()
    finally:
        await client.aclose()
