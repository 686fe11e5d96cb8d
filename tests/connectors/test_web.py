"""The web widget's channel: signed sessions, the websocket, history after a reload, live status."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import httpx
import pytest
from websockets.client import connect
from websockets.exceptions import ConnectionClosed

from connectors.web import WebChannel
from core.settings import Settings
from handoff.identity import conversation_id
from handoff.models import Agent, OutboundMessage
from tests.connectors.conftest import WEB_SECRET
from tests.handoff.helpers import request
from tests.helpers.channels import WebCustomer, serving_channel
from tests.helpers.texts import catalog
from tests.helpers.waiting import until


async def test_the_customer_sees_their_message_typing_and_the_answer_in_order(web) -> None:
    _app, customer = web
    hello = await customer.open()
    assert hello["type"] == "hello" and hello["history"] == []
    assert hello["status"] == {"state": "bot", "position": None, "agent_name": ""}
    await customer.say("Where is my parcel?")
    await customer.replies(1)
    kinds = [(f["type"], f.get("role") or f.get("who")) for f in customer.frames]
    assert kinds[:3] == [("message", "customer"), ("typing", "bot"), ("message", "bot")]
    echo, answer = customer.frames[0], customer.frames[2]
    assert echo["text"] == "Where is my parcel?" and answer["text"] == "bot: Where is my parcel?"
    assert answer["seq"] == echo["seq"] + 1
    assert [b["title"] for b in answer["buttons"]] == ["Track my order", "Talk to a person"]


async def test_a_button_sends_its_payload_and_shows_its_title(web) -> None:
    app, customer = web
    await customer.open()
    await customer.say("Talk to a person", payload="/human_handoff")
    await customer.replies(1)
    assert app.bot.texts == ["/human_handoff"]
    assert customer.messages(("customer",))[0]["text"] == "Talk to a person"


async def test_a_reload_gets_what_it_missed_and_nothing_twice(web) -> None:
    app, customer = web
    await customer.open()
    await customer.say("first")
    await customer.replies(1)
    last_seen = max(f["seq"] for f in customer.messages(("customer", "bot")))
    await customer.close()

    # While the page reloads, the service tells the customer something.
    cid = conversation_id("web", customer.address)
    await app.rt.store.request(request(cid, channel="web"))
    await app.rt.store.tell_customer(await app.rt.store.get(cid), "You're number 1 in line.")
    await until(lambda: app.channel.history(cid, last_seen), what="the notice in the widget's history")

    again = WebCustomer(app.base)
    again.session = customer.session
    hello = await again.open(after=last_seen)
    try:
        assert [m["text"] for m in hello["history"]] == ["You're number 1 in line."]
        assert hello["status"] == {"state": "queued", "position": 1, "agent_name": ""}
        fresh = WebCustomer(app.base)
        fresh.session = customer.session
        everything = await fresh.open(after=0)
        assert [m["text"] for m in everything["history"]] == ["first", "bot: first", "You're number 1 in line."]
        await fresh.close()
    finally:
        await again.close()


async def test_status_and_agent_typing_reach_the_widget_live(web) -> None:
    app, customer = web
    await customer.open()
    cid = conversation_id("web", customer.address)
    store = app.rt.store
    await store.request(request(cid, channel="web"))
    await store.tell_customer(await store.get(cid), "You're number 1 in line.")
    await customer.wait(lambda frames: any(f["type"] == "status" and f["state"] == "queued" for f in frames))
    await store.take(cid, "dana", "Dana Levi", 3, require_online=False)
    await store.tell_customer(await store.get(cid), "Dana from our team has joined the chat.")
    await customer.wait(lambda frames: any(f["type"] == "status" and f["state"] == "with_agent" for f in frames))
    status = [f for f in customer.frames if f["type"] == "status"][-1]
    assert status == {"type": "status", "state": "with_agent", "position": None, "agent_name": "Dana"}
    agent = Agent(agent_id="dana", name="Dana Levi", password_hash="", languages=("en",))
    await app.rt.router.desk.typing(cid, agent)
    await customer.wait(lambda frames: any(f["type"] == "typing" and f["who"] == "agent" for f in frames))
    typing = next(f for f in customer.frames if f["type"] == "typing" and f["who"] == "agent")
    assert typing["name"] == "Dana"


async def test_a_socket_gets_messages_another_process_delivers(web, channel_settings: Settings) -> None:
    _app, customer = web
    await customer.open()
    cid = conversation_id("web", customer.address)
    async with serving_channel(lambda rt: WebChannel(WEB_SECRET, rt=rt), channel_settings) as other:
        await other.channel.send(customer.address, OutboundMessage(
            message_id=uuid.uuid4().hex, cid=cid, channel="web", text="from process B", kind="agent",
            author_name="Omer"))
        await customer.wait(lambda frames: any(f.get("text") == "from process B" for f in frames))
    [message] = customer.messages(("agent",))
    assert message["author_name"] == "Omer"


async def test_a_forged_session_is_refused_on_the_socket_and_over_http(web) -> None:
    app, _customer = web
    ws = await connect(app.base.replace("http://", "ws://") + "/socket")
    await ws.send(json.dumps({"type": "hello", "session": "abc", "token": "0" * 64, "after": 0}))
    refusal = json.loads(await ws.recv())
    assert refusal["type"] == "error" and refusal["status"] == 403
    with pytest.raises(ConnectionClosed) as closed:
        await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4403
    async with httpx.AsyncClient() as http:
        response = await http.post(app.base + "/webhook", json={"session": "abc", "token": "0" * 64, "text": "hi"})
    assert response.status_code == 403 and "session" in response.json()["error"]
    assert app.bot.seen == []


async def test_bad_frames_get_an_error_and_the_socket_stays_open(web) -> None:
    app, customer = web
    await customer.open()
    await customer.socket.send("{not json")
    await customer.socket.send(json.dumps({"type": "message", "text": "x" * 10_001}))
    await customer.socket.send(json.dumps({"type": "message", "text": 42}))
    await customer.wait(lambda frames: len([f for f in frames if f["type"] == "error"]) == 3)
    assert [f["status"] for f in customer.frames if f["type"] == "error"] == [400, 413, 400]
    await customer.say("still here?")
    await customer.replies(1)
    assert app.bot.texts == ["still here?"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1]", 400),
        (b'{"text": "hi"}', 403),
        (None, 413),
        ("text-not-a-string", 400),
        ("empty-text", 400),
    ],
)
async def test_bad_http_messages_get_the_right_4xx(web, body: Any, status: int) -> None:
    app, _customer = web
    async with httpx.AsyncClient() as http:
        session = (await http.post(app.base + "/session")).json()
        if body is None:
            body = json.dumps({**session, "text": "x" * 10_001}).encode()
        elif body == "text-not-a-string":
            body = json.dumps({**session, "text": ["hi"]}).encode()
        elif body == "empty-text":
            body = json.dumps({**session, "text": "   "}).encode()
        response = await http.post(app.base + "/webhook", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status, response.text
    assert response.json()["error"]
    assert app.bot.seen == []


async def test_a_message_over_http_is_answered_on_the_socket(web) -> None:
    app, customer = web
    await customer.open()
    async with httpx.AsyncClient() as http:
        response = await http.post(app.base + "/webhook", json={**customer.session, "text": "hi from a form"})
    assert response.status_code == 200 and response.json()["routed"] == ["bot"]
    await customer.replies(1)
    assert customer.messages()[0]["text"] == "bot: hi from a form"


async def test_only_allowed_origins_may_open_sessions(channel_settings: Settings, redis_client: Any) -> None:
    make = lambda rt: WebChannel(WEB_SECRET, allowed_origins="https://shop.example", rt=rt)  # noqa: E731
    async with serving_channel(make, channel_settings) as app:
        async with httpx.AsyncClient() as http:
            ok = await http.post(app.base + "/session", headers={"origin": "https://shop.example"})
            refused = await http.post(app.base + "/session", headers={"origin": "https://evil.example"})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == "https://shop.example"
    assert refused.status_code == 403


async def test_the_widget_files_are_served_locally(web) -> None:
    app, _customer = web
    async with httpx.AsyncClient() as http:
        script = await http.get(app.base + "/widget.js")
        style = await http.get(app.base + "/widget.css")
        demo = await http.get(app.base + "/demo")
    assert script.status_code == 200 and script.headers["content-type"].startswith("application/javascript")
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert demo.status_code == 200 and '<script src="widget.js"' in demo.text
    assert "http://" not in demo.text and "https://" not in demo.text  # nothing from elsewhere


async def test_the_widget_script_carries_the_catalogs_texts_of_both_languages(web) -> None:
    app, _customer = web
    async with httpx.AsyncClient() as http:
        script = await http.get(app.base + "/widget.js")
        again = await http.get(app.base + "/widget.js", headers={"if-none-match": script.headers["etag"]})
    texts = catalog()
    served = re.search(r"const TEXTS = (\{.*?\});\n", script.text)
    assert served is not None, "widget.js has no texts"
    assert json.loads(served.group(1)) == {language: texts.templates("widget_", language) for language in ("he", "en")}
    assert texts.text("widget_launcher", "he") in script.text  # readable Hebrew, not \u escapes
    # One request: the browser keeps the script and asks whether it changed; it has not.
    assert script.headers["cache-control"] == "no-cache"
    assert again.status_code == 304 and again.content == b""
