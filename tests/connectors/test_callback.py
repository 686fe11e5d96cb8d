"""The callback channel over real HTTP: validation, routing by handoff state, delivery once."""

from __future__ import annotations

import asyncio
from typing import Any, AsyncIterator, Dict, List

import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from sanic import Sanic

from connectors.callback import CallbackChannel
from connectors.delivery import GROUP
from connectors.runtime import ChannelRuntime
from core.settings import Settings
from handoff.models import ConversationState, EventKind
from handoff.state import HandoffStore
from tests.handoff.helpers import request
from tests.helpers.channels import BUTTONS, EchoBot
from tests.helpers.redis_server import RedisServer
from tests.helpers.sanic_server import serving
from tests.helpers.waiting import until
from wiring.container import Container

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


async def _nothing_pending(store: HandoffStore) -> bool:
    return (await store.redis.xpending(store.keys.outbound(), GROUP))["pending"] == 0


class Inbox:
    """A customer's callback endpoint (aiohttp) recording what arrives."""

    def __init__(self) -> None:
        self.received: List[Dict[str, Any]] = []
        self.fail_next = 0
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=503)
        self.received.append(await request.json())
        self.arrived.set()
        return web.Response(text="ok")

    async def wait_for(self, count: int, seconds: float = 20) -> List[Dict[str, Any]]:
        async def _wait() -> None:
            while len(self.received) < count:
                self.arrived.clear()
                await self.arrived.wait()

        await asyncio.wait_for(_wait(), seconds)
        return self.received


@pytest_asyncio.fixture()
async def inbox() -> AsyncIterator[tuple[Inbox, str]]:
    box = Inbox()
    app = web.Application()
    app.router.add_post("/inbox", box.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield box, f"http://127.0.0.1:{port}/inbox"
    await runner.cleanup()


@pytest_asyncio.fixture()
async def channel_app(redis_server: RedisServer, redis_client, inbox, tmp_path) -> AsyncIterator[Any]:
    box, url = inbox
    # A failed send may be tried again at once (the tests below redeliver by hand; production waits 5 s first).
    settings = Settings(var_dir=tmp_path, delivery_backoff_seconds=0.001).with_ports(
        redis=redis_server.port, rasa=1, actions=1)
    rt = ChannelRuntime(Container(settings))
    channel = CallbackChannel(url, rt=rt)
    bot = EchoBot()
    app = Sanic(f"channel-test-{id(rt)}")
    app.blueprint(channel.blueprint(bot), url_prefix="/webhooks/kesher_callback")

    async with serving(app) as base:
        yield base + "/webhooks/kesher_callback", box, bot, rt


async def test_a_message_in_bot_state_is_answered_through_the_callback(channel_app) -> None:
    base, box, bot, _ = channel_app
    async with httpx.AsyncClient() as http:
        response = await http.post(base + "/webhook", json={"sender": "c1", "message": "hello"})
    assert response.status_code == 200 and response.json()["routed"] == ["bot"]
    [reply] = await box.wait_for(1)
    assert reply["recipient_id"] == "c1" and reply["text"] == "bot: hello"
    assert reply["buttons"] == BUTTONS
    assert bot.texts == ["hello"]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"message": "hi"}', 400),
        (b'{"sender": "c1"}', 400),
        (b'{"sender": "c1", "message": 5}', 400),
        (('{"sender": "c1", "message": "' + "x" * 10_001 + '"}').encode(), 413),
    ],
    ids=["not-json", "not-an-object", "no-sender", "no-message", "message-not-text", "too-long"],
)
async def test_bad_requests_get_a_4xx_with_a_reason(channel_app, body: bytes, status: int) -> None:
    base, _, bot, _ = channel_app
    async with httpx.AsyncClient() as http:
        response = await http.post(base + "/webhook", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    assert response.json()["error"]
    assert bot.seen == []


async def test_during_a_handoff_the_bot_never_sees_the_message(channel_app) -> None:
    base, _box, bot, rt = channel_app
    await rt.store.request(request("c2"))
    async with httpx.AsyncClient() as http:
        response = await http.post(base + "/webhook", json={"sender": "c2", "message": "is anyone there?"})
    assert response.json()["routed"] == ["queued"]
    assert bot.seen == []
    events = await rt.store.events("c2")
    assert [e.text for e in events if e.kind is EventKind.CUSTOMER] == ["is anyone there?"]


async def test_a_replayed_provider_message_id_is_processed_once(channel_app) -> None:
    base, _box, bot, _ = channel_app
    body = {"sender": "c3", "message": "hi", "message_id": "m-1"}
    async with httpx.AsyncClient() as http:
        first = await http.post(base + "/webhook", json=body)
        second = await http.post(base + "/webhook", json=body)
    assert first.json()["routed"] == ["bot"] and second.json()["routed"] == []
    assert bot.texts == ["hi"]


async def test_agent_messages_are_delivered_once_even_after_a_failed_attempt(channel_app) -> None:
    _base, box, _, rt = channel_app
    store = rt.store
    await store.request(request("c4"))
    await store.take("c4", "dana", "Dana Levi", 3, require_online=False)
    conv = await store.get("c4")
    box.fail_next = 1  # the customer's endpoint is down once
    await store.tell_customer(conv, "Hi, Dana here", kind=EventKind.AGENT, author="dana", author_name="Dana")
    # The failed attempt stays pending (unacknowledged) in the consumer group.
    store_keys = store.keys

    async def failed_and_pending() -> bool:
        pending = await store.redis.xpending(store_keys.outbound(), GROUP)
        return pending["pending"] == 1 and box.fail_next == 0

    await until(failed_and_pending, what="the failed attempt, left pending")
    assert box.received == []
    # Redelivery (what the worker does once the entry has been idle a while) sends it once...
    [(entry_id, fields)] = await store.redis.xrange(store_keys.outbound())
    assert await rt.worker.deliver(entry_id, fields)
    assert [m["text"] for m in await box.wait_for(1)] == ["Hi, Dana here"]
    # ...and a second redelivery of the same entry sends nothing: the next message arrives right after it.
    assert await rt.worker.deliver(entry_id, fields)
    await store.tell_customer(conv, "Let me check", kind=EventKind.AGENT, author="dana", author_name="Dana")
    assert [m["text"] for m in await box.wait_for(2)] == ["Hi, Dana here", "Let me check"]
    await until(lambda: _nothing_pending(store), what="every message acknowledged")
    assert await store.state("c4") is ConversationState.WITH_AGENT
