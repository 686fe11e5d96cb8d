"""The callback channel over real HTTP: its secret, its own conversations, validation, routing, delivery once."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any, AsyncIterator, Dict, List

import httpx
import pytest
import pytest_asyncio
from aiohttp import web
from sanic import Sanic

from connectors.callback import SECRET_HEADER, CallbackChannel
from connectors.delivery import GROUP
from connectors.runtime import ChannelRuntime
from connectors.whatsapp import WhatsAppChannel
from core.settings import Settings
from handoff.identity import conversation_id
from handoff.models import ConversationState, EventKind
from handoff.state import HandoffStore
from tests.handoff.helpers import request
from tests.helpers import fake_twilio
from tests.helpers.channels import BUTTONS, FAST_DELIVERY, EchoBot, WhatsAppCustomer
from tests.helpers.fake_twilio import FakeTwilio
from tests.helpers.redis_server import RedisServer
from tests.helpers.sanic_server import serving
from tests.helpers.waiting import until
from wiring.container import Container

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SECRET = "test-callback-secret"


def cid(sender: str) -> str:
    """The conversation a callback sender writes into: its own, on this channel."""
    return conversation_id("kesher_callback", sender)


async def post(base: str, body: Any, secret: str = SECRET) -> httpx.Response:
    """POSTs a JSON body (bytes as they are) with the secret header (none if ``secret`` is empty)."""
    headers = {"content-type": "application/json"}
    if secret:
        headers[SECRET_HEADER] = secret
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient() as http:
        return await http.post(base + "/webhook", content=content, headers=headers)


async def _nothing_pending(store: HandoffStore) -> bool:
    return (await store.redis.xpending(store.keys.outbound(), GROUP))["pending"] == 0


class Inbox:
    """A customer's callback endpoint (aiohttp) recording what arrives."""

    def __init__(self) -> None:
        self.received: List[Dict[str, Any]] = []
        self.headers: List[Dict[str, str]] = []
        self.fail_next = 0
        self.arrived = asyncio.Event()

    async def handle(self, request: web.Request) -> web.Response:
        if self.fail_next:
            self.fail_next -= 1
            return web.Response(status=503)
        self.headers.append(dict(request.headers))
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
    channel = CallbackChannel(url, SECRET, rt=rt)
    bot = EchoBot()
    app = Sanic(f"channel-test-{id(rt)}")
    app.blueprint(channel.blueprint(bot), url_prefix="/webhooks/kesher_callback")

    async with serving(app) as base:
        yield base + "/webhooks/kesher_callback", box, bot, rt


async def test_a_message_in_bot_state_is_answered_through_the_callback(channel_app) -> None:
    base, box, bot, _ = channel_app
    response = await post(base, {"sender": "c1", "message": "hello"})
    assert response.status_code == 200 and response.json()["routed"] == ["bot"]
    [reply] = await box.wait_for(1)
    assert reply["recipient_id"] == "c1" and reply["text"] == "bot: hello"
    assert reply["buttons"] == BUTTONS
    assert box.headers[0][SECRET_HEADER] == SECRET  # the receiver can tell the reply comes from Kesher
    assert bot.seen == [(cid("c1"), "hello")]


@pytest.mark.parametrize(
    ("body", "status"),
    [
        (b"{not json", 400),
        (b"[1, 2]", 400),
        (b'{"message": "hi"}', 400),
        (b'{"sender": "c1"}', 400),
        (b'{"sender": "c1", "message": 5}', 400),
        (('{"sender": "c1", "message": "' + "x" * 10_001 + '"}').encode(), 413),
        (b'{"sender": "c1\\ud800", "message": "hi"}', 400),
        (b'{"sender": "c1", "message": "hi \\udc00"}', 400),
        ('{"sender": "דנה", "message": "hi"}'.encode(), 400),
        (b'{"sender": "a b", "message": "hi"}', 400),
        (b'{"sender": "' + b"a" * 129 + b'", "message": "hi"}', 400),
        (b'{"sender": "c1", "message": "hi", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400),
    ],
    ids=["not-json", "not-an-object", "no-sender", "no-message", "message-not-text", "too-long",
         "lone-surrogate-sender", "lone-surrogate-message", "non-ascii-sender", "space-in-sender",
         "sender-too-long", "nested-5000"],
)
async def test_bad_requests_get_a_4xx_with_a_reason(channel_app, body: bytes, status: int) -> None:
    base, _, bot, _ = channel_app
    response = await post(base, body)
    assert response.status_code == status
    assert response.json()["error"]
    assert bot.seen == []


async def test_during_a_handoff_the_bot_never_sees_the_message(channel_app) -> None:
    base, _box, bot, rt = channel_app
    await rt.store.request(request(cid("c2")))
    response = await post(base, {"sender": "c2", "message": "is anyone there?"})
    assert response.json()["routed"] == ["queued"]
    assert bot.seen == []
    events = await rt.store.events(cid("c2"))
    assert [e.text for e in events if e.kind is EventKind.CUSTOMER] == ["is anyone there?"]


async def test_a_replayed_provider_message_id_is_processed_once(channel_app) -> None:
    base, _box, bot, _ = channel_app
    body = {"sender": "c3", "message": "hi", "message_id": "m-1"}
    first = await post(base, body)
    second = await post(base, body)
    assert first.json()["routed"] == ["bot"] and second.json()["routed"] == []
    assert bot.texts == ["hi"]


async def test_agent_messages_are_delivered_once_even_after_a_failed_attempt(channel_app) -> None:
    _base, box, _, rt = channel_app
    store = rt.store
    await store.request(request(cid("c4")))
    await store.take(cid("c4"), "dana", "Dana Levi", 3, require_online=False)
    conv = await store.get(cid("c4"))
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
    assert await store.state(cid("c4")) is ConversationState.WITH_AGENT


# -- the attack of issue #13: a caller naming a WhatsApp customer's conversation -------------
PHONE = "+972501234567"
WA_CID = conversation_id("whatsapp", PHONE)


@pytest_asyncio.fixture()
async def two_channels(redis_server: RedisServer, redis_client, inbox, twilio: FakeTwilio, tmp_path,
                       ) -> AsyncIterator[Any]:
    """The callback and WhatsApp channels in one process (one runtime), as `rasa run` serves them."""
    twilio.clear()
    box, url = inbox
    settings = Settings(var_dir=tmp_path).with_ports(redis=redis_server.port, rasa=1, actions=1)
    rt = ChannelRuntime(Container(settings), delivery=FAST_DELIVERY)
    bot = EchoBot()
    app = Sanic(f"two-channels-{id(rt)}")
    app.blueprint(CallbackChannel(url, SECRET, rt=rt).blueprint(bot), url_prefix="/webhooks/kesher_callback")
    whatsapp = WhatsAppChannel(fake_twilio.DEFAULT_ACCOUNT_SID, fake_twilio.DEFAULT_AUTH_TOKEN,
                               fake_twilio.WHATSAPP_FROM, api_base=twilio.base_url, rt=rt)
    app.blueprint(whatsapp.blueprint(bot), url_prefix="/webhooks/whatsapp")
    async with serving(app) as base:
        # The real WhatsApp customer waits in the queue for a person (they wrote just now: within the 24-hour window).
        await rt.store.request(request(WA_CID, channel="whatsapp"))
        await rt.redis.set(rt.keys.whatsapp_window(PHONE), repr(time.time()), ex=24 * 3600)
        yield base, box, bot, rt, WhatsAppCustomer(base + "/webhooks/whatsapp", twilio, phone=PHONE)


async def _untouched(rt: ChannelRuntime) -> None:
    """The WhatsApp customer's conversation is as they left it: queued, nothing said, on WhatsApp."""
    conv = await rt.store.get(WA_CID)
    assert conv is not None and conv.state is ConversationState.QUEUED and conv.channel == "whatsapp"
    assert [e.text for e in await rt.store.events(WA_CID) if e.kind is EventKind.CUSTOMER] == []
    assert await rt.identity.addresses(WA_CID) == {"whatsapp": PHONE}


@pytest.mark.parametrize("secret", ["", "guess"], ids=["no-secret", "wrong-secret"])
async def test_without_the_secret_a_caller_reaches_no_conversation(two_channels, secret: str) -> None:
    base, _box, bot, rt, _customer = two_channels
    response = await post(base + "/webhooks/kesher_callback", {"sender": f"whatsapp:{PHONE}", "message": "cancel"},
                          secret=secret)
    assert response.status_code == 403
    assert SECRET_HEADER in response.json()["error"]
    assert bot.seen == []
    await _untouched(rt)


@pytest.mark.parametrize("sender", [WA_CID, PHONE], ids=["their-conversation-id", "their-number"])
async def test_with_the_secret_a_whatsapp_sender_lands_in_its_own_conversation(two_channels, sender: str) -> None:
    base, box, bot, rt, customer = two_channels
    callback = base + "/webhooks/kesher_callback"
    # "cancel" would give up the WhatsApp customer's place in the queue, if it reached their conversation.
    response = await post(callback, {"sender": sender, "message": "cancel"})
    assert response.status_code == 200 and response.json()["routed"] == ["bot"]
    assert bot.seen == [(cid(sender), "cancel")]
    await _untouched(rt)
    # The agent who takes the WhatsApp customer answers them on WhatsApp, not the caller.
    await rt.store.take(WA_CID, "dana", "Dana Levi", 3, require_online=False)
    conv = await rt.store.get(WA_CID)
    assert conv is not None
    await rt.store.tell_customer(conv, "Hi, Dana here", kind=EventKind.AGENT, author="dana", author_name="Dana")
    [reply] = await customer.replies(1)
    assert reply.text.endswith("Hi, Dana here")
    # A marker after it: once the caller gets the bot's answer to it, anything sent before would be there.
    await post(callback, {"sender": sender, "message": "marker"})
    received = await box.wait_for(2)
    assert [m["text"] for m in received] == ["bot: cancel", "bot: marker"]
    assert {m["recipient_id"] for m in received} == {sender}


@pytest.mark.parametrize("url, secret", [("", SECRET), ("http://127.0.0.1:9/inbox", "")], ids=["no-url", "no-secret"])
async def test_the_channel_is_off_without_a_url_and_a_secret(redis_server: RedisServer, redis_client, tmp_path,
                                                             url: str, secret: str) -> None:
    settings = Settings(var_dir=tmp_path).with_ports(redis=redis_server.port, rasa=1, actions=1)
    rt = ChannelRuntime(Container(settings))
    await rt.store.request(request(WA_CID, channel="whatsapp"))
    bot = EchoBot()
    app = Sanic(f"callback-off-{id(rt)}")
    app.blueprint(CallbackChannel(url, secret, rt=rt).blueprint(bot), url_prefix="/webhooks/kesher_callback")
    async with serving(app) as base:
        response = await post(base + "/webhooks/kesher_callback", {"sender": f"whatsapp:{PHONE}", "message": "cancel"},
                              secret=secret or "anything")
    assert response.status_code == 404
    assert "KESHER_CALLBACK_SECRET" in response.json()["error"]
    assert bot.seen == []
    await _untouched(rt)
