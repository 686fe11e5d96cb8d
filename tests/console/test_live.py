"""The console's websocket: queue, state and chat events pushed live from the feed stream."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

import httpx
import pytest
from redis.asyncio import Redis
from sanic import Sanic
from websockets.client import WebSocketClientProtocol, connect
from websockets.exceptions import ConnectionClosed, InvalidStatusCode
from websockets.typing import Origin

from console.feed import FeedHub, Subscriber
from console.live import console_websocket
from handoff.models import Agent, Event, EventKind
from handoff.state import HandoffStore
from tests.console.conftest import Service, english_request, hebrew_request, login, new_cid
from tests.helpers.console import console_socket, next_frame
from tests.helpers.console_app import running_console
from tests.helpers.redis_server import RedisServer


async def _connect(service: Service, http: httpx.AsyncClient) -> WebSocketClientProtocol:
    return await console_socket(service.base_url, str(http.cookies.get("kesher_session")))


async def _frames_until(ws: WebSocketClientProtocol, marker: Callable[[Dict[str, Any]], bool],
                        seconds: float = 8.0) -> List[Dict[str, Any]]:
    """Every frame up to and including the first that ``marker`` accepts."""
    frames: List[Dict[str, Any]] = []

    def seen(frame: Dict[str, Any]) -> bool:
        frames.append(frame)
        return marker(frame)

    await next_frame(ws, seen, seconds)
    return frames


async def test_queue_state_and_events_are_pushed(
    console_service: Service, http: httpx.AsyncClient, live_store: HandoffStore, redis_client: Redis
):
    csrf = await login(http, "dana")
    h = {"X-CSRF-Token": csrf}
    await http.post("/console/api/presence", json={"status": "online"}, headers=h)
    ws = await _connect(console_service, http)
    try:
        cid = new_cid("live")
        await live_store.request(hebrew_request(cid))
        queued = await next_frame(ws, lambda m: m["type"] == "queue" and any(r["cid"] == cid for r in m["queue"]))
        row = next(r for r in queued["queue"] if r["cid"] == cid)
        assert row["language"] == "he" and row["reason"] == "complaint_frustration"

        # a waiting conversation's messages go only to consoles watching it
        await ws.send(json.dumps({"type": "watch", "cid": cid}))
        watching = await next_frame(ws, lambda m: m["type"] == "watching")
        assert watching["cid"] == cid
        waiting = await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, text="הלו?", author="customer"))
        pushed = await next_frame(ws, lambda m: m["type"] == "event" and m["event"]["kind"] == "customer")
        assert pushed["event"]["stream_id"] == waiting and pushed["event"]["text"] == "הלו?"

        assert (await http.post(f"/console/api/chats/{cid}/take", headers=h)).status_code == 200
        state = await next_frame(ws, lambda m: m["type"] == "state" and m["cid"] == cid)
        assert state["from"] == "queued" and state["to"] == "with_agent" and state["agent_id"] == "dana"
        await next_frame(ws, lambda m: m["type"] == "queue" and all(r["cid"] != cid for r in m["queue"]))

        await ws.send(json.dumps({"type": "watch", "cid": ""}))  # owner still gets its chat's events
        assert (await next_frame(ws, lambda m: m["type"] == "watching"))["cid"] == ""
        sid = await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, text="אני עדיין מחכה", author="customer"))
        event = await next_frame(ws, lambda m: m["type"] == "event" and m["event"]["kind"] == "customer")
        assert event["cid"] == cid and event["event"]["stream_id"] == sid
    finally:
        await ws.close()


async def test_other_agents_do_not_get_my_chat(
    console_service: Service, http: httpx.AsyncClient, live_store: HandoffStore, redis_client: Redis
):
    dana_csrf = await login(http, "dana")
    await http.post("/console/api/presence", json={"status": "online"}, headers={"X-CSRF-Token": dana_csrf})
    async with httpx.AsyncClient(base_url=console_service.base_url, timeout=15) as omer_http:
        await login(omer_http, "omer")
        omer_ws = await _connect(console_service, omer_http)
        try:
            cid = new_cid("priv")
            await live_store.request(english_request(cid))
            await http.post(f"/console/api/chats/{cid}/take", headers={"X-CSRF-Token": dana_csrf})
            await omer_ws.send(json.dumps({"type": "watch", "cid": cid}))  # not allowed: with dana now
            refused = await next_frame(omer_ws, lambda m: m["type"] == "watching")
            assert refused["cid"] == ""
            await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, text="private", author="customer"))
            # A marker after the private message: a new conversation in the queue, which every console sees.
            other = new_cid("next")
            await live_store.request(english_request(other))
            before_marker = await _frames_until(
                omer_ws, lambda m: m["type"] == "queue" and any(r["cid"] == other for r in m["queue"]))
            assert [m for m in before_marker if m["type"] == "event"] == []
        finally:
            await omer_ws.close()


async def test_logout_closes_the_socket(console_service: Service, http: httpx.AsyncClient, redis_client: Redis):
    csrf = await login(http, "dana")
    ws = await _connect(console_service, http)
    await http.post("/console/logout", data={"csrf_token": csrf})
    with pytest.raises(ConnectionClosed) as info:
        await next_frame(ws, lambda m: False, seconds=5)
    assert info.value.code == 4401


def _drain(sub: Subscriber) -> List[Dict[str, Any]]:
    """What the hub queued for a console; none of it may be the signal to close."""
    queued: List[Optional[Dict[str, Any]]] = [sub.queue.get_nowait() for _ in range(sub.queue.qsize())]
    messages = [m for m in queued if m is not None]
    assert len(messages) == len(queued) and sub.close_code == 0, "the console was told to close"
    return messages


async def test_slow_subscriber_is_told_to_reconnect():
    sub = Subscriber(Agent("dana", "Dana Levi"), "token")
    sub.queue = asyncio.Queue(maxsize=2)
    for n in range(3):
        sub.push({"n": n})
    assert sub.close_code == 4000
    drained = []
    while not sub.queue.empty():
        drained.append(sub.queue.get_nowait())
    assert drained[-1] is None


async def test_hub_dispatch_routes_by_owner(live_store: HandoffStore, redis_client: Redis):
    class QueueOnly:
        async def queue_view(self):
            return [{"cid": "x"}]

    hub = FeedHub(QueueOnly(), redis_client, live_store.keys)  # type: ignore[arg-type]
    dana = hub.subscribe(Agent("dana", "Dana Levi"), "t1")
    omer = hub.subscribe(Agent("omer", "Omer Katz"), "t2")
    cid = new_cid("hub")
    await live_store.request(english_request(cid))
    await live_store.take(cid, "dana", "Dana Levi", 3, require_online=False)
    sid = await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, text="hi", author="customer"))
    entries = await redis_client.xrange(live_store.keys.feed())
    await hub.dispatch(entries)
    got_dana = _drain(dana)
    got_omer = _drain(omer)
    assert [m["event"]["stream_id"] for m in got_dana if m["type"] == "event"] == [sid]
    assert not [m for m in got_omer if m["type"] == "event"]
    assert [m["type"] for m in got_omer].count("queue") == 1  # one queue view per batch


async def test_two_chats_with_the_same_stream_id_each_get_their_own_message(
    live_store: HandoffStore, redis_client: Redis
):
    """Stream ids are per stream: two conversations' messages can share one (seen under load)."""
    hub = FeedHub(None, redis_client, live_store.keys)  # type: ignore[arg-type]
    dana = hub.subscribe(Agent("dana", "Dana Levi"), "t1")
    omer = hub.subscribe(Agent("omer", "Omer Katz"), "t2")
    entries: List[Tuple[str, Dict[str, str]]] = []
    for agent, text in (("dana", "for dana"), ("omer", "for omer")):
        cid = new_cid(agent)
        await live_store.request(english_request(cid))
        await live_store.take(cid, agent, agent.title(), 3, require_online=False)
        event = Event(kind=EventKind.CUSTOMER, text=text, author="customer", message_id=text)
        await redis_client.xadd(live_store.keys.events(cid), event.to_redis(), id="9999999999999-7")
        entries.append((f"9999999999999-{len(entries)}", {"cid": cid, "kind": "customer",
                                                          "event_id": "9999999999999-7"}))
    await hub.dispatch(entries)
    texts = {name: [m["event"]["text"] for m in _drain(sub) if m["type"] == "event"]
             for name, sub in (("dana", dana), ("omer", omer))}
    assert texts == {"dana": ["for dana"], "omer": ["for omer"]}


async def test_a_watcher_gets_nothing_more_once_another_agent_takes_the_chat(
    console_service: Service, http: httpx.AsyncClient, live_store: HandoffStore, redis_client: Redis
):
    await login(http, "omer")  # an agent, not a supervisor: may look at a chat only while it waits
    omer_ws = await _connect(console_service, http)
    async with httpx.AsyncClient(base_url=console_service.base_url, timeout=15) as sarah_http:
        sarah_csrf = await login(sarah_http, "sarah")
        h = {"X-CSRF-Token": sarah_csrf}
        await sarah_http.post("/console/api/presence", json={"status": "online"}, headers=h)
        try:
            cid = new_cid("watch")
            await live_store.request(english_request(cid))
            await omer_ws.send(json.dumps({"type": "watch", "cid": cid}))
            assert (await next_frame(omer_ws, lambda m: m["type"] == "watching"))["cid"] == cid
            await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, text="anyone?", author="customer"))
            await next_frame(omer_ws, lambda m: m["type"] == "event" and m["event"]["text"] == "anyone?")

            assert (await sarah_http.post(f"/console/api/chats/{cid}/take", headers=h)).status_code == 200
            await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, text="my card is 4580", author="customer"))
            note = await sarah_http.post(f"/console/api/chats/{cid}/notes", json={"text": "VIP, refund quietly"},
                                         headers=h)
            assert note.status_code == 201
            other = new_cid("marker")
            await live_store.request(english_request(other))
            after_take = await _frames_until(
                omer_ws, lambda m: m["type"] == "queue" and any(r["cid"] == other for r in m["queue"]))
            assert {"type": "watching", "cid": ""} in after_take  # told it watches nothing now
            assert [m for m in after_take if m["type"] in ("event", "typing")] == []
        finally:
            await omer_ws.close()


async def test_the_hub_checks_at_every_message_that_a_watcher_may_still_see_it(
    live_store: HandoffStore, redis_client: Redis
):
    class QueueOnly:
        async def queue_view(self):
            return []

    hub = FeedHub(QueueOnly(), redis_client, live_store.keys)  # type: ignore[arg-type]
    omer = hub.subscribe(Agent("omer", "Omer Katz"), "t1")
    boss = hub.subscribe(Agent("dana", "Dana Levi", role="supervisor"), "t2")
    cid = new_cid("recheck")
    await live_store.request(english_request(cid))
    omer.watching.add(cid)  # allowed while it waited
    boss.watching.add(cid)
    await live_store.take(cid, "sarah", "Sarah Cohen", 3, require_online=False)
    # the take's own feed entry is left out: only the message after it reaches the hub
    sid = await live_store.add_event(cid, Event(kind=EventKind.NOTE, text="internal", author="sarah"))
    entries = [e for e in await redis_client.xrange(live_store.keys.feed()) if e[1].get("kind") == "note"]
    assert entries
    await hub.dispatch(entries)
    assert [m for m in _drain(omer) if m["type"] == "event"] == []
    assert cid not in omer.watching
    assert [m["event"]["stream_id"] for m in _drain(boss) if m["type"] == "event"] == [sid]  # supervisors see all


async def test_the_socket_is_only_at_its_exact_path(
    console_service: Service, http: httpx.AsyncClient, redis_client: Redis
):
    await login(http, "dana")
    cookie = f"kesher_session={http.cookies.get('kesher_session')}"
    base = console_service.base_url.replace("http://", "ws://")
    for path, origin in (("/console/ws/", "http://evil.example"), ("/console/ws/", console_service.origin)):
        with pytest.raises(InvalidStatusCode) as info:
            async with connect(base + path, origin=Origin(origin), extra_headers={"Cookie": cookie}):
                pass
        assert info.value.status_code in (403, 404), path
    with pytest.raises(InvalidStatusCode) as refused:  # the check does not depend on the path
        async with connect(base + "/console/ws", origin=Origin("http://evil.example"),
                           extra_headers={"Cookie": cookie}):
            pass
    assert refused.value.status_code == 403


async def test_the_handler_checks_the_session_itself_wherever_it_is_mounted(
    redis_server: RedisServer, redis_client: Redis, tmp_path: Path
):
    def mount_elsewhere(app: Sanic) -> None:  # outside the console's Blueprint: no middleware runs first
        app.add_websocket_route(console_websocket, "/elsewhere/ws", name="elsewhere_ws")

    async with running_console(redis_server, tmp_path, prepare=mount_elsewhere) as console:
        url = console.base_url.replace("http://", "ws://") + "/elsewhere/ws"
        async with connect(url, origin=Origin(console.base_url)) as ws:
            with pytest.raises(ConnectionClosed) as info:
                await ws.recv()  # closed before any hello
    assert info.value.code == 4401
