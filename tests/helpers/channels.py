"""Kesher's channels served over real HTTP, and customers who talk to them like the providers do.

A test builds a channel with :func:`serving_channel` (its own runtime on the
session's redis-server, a stand-in for Rasa that answers every message) and
talks to it through a customer: :class:`WebCustomer` (the widget's websocket),
:class:`WhatsAppCustomer` (Twilio's signed form posts; replies read at the
fake Twilio API) or :class:`TelegramCustomer` (Telegram's updates with the
secret header; replies read at the fake Bot API).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Callable, Dict, List, Optional, Tuple

import httpx
from rasa.core.channels.channel import UserMessage
from sanic import Sanic
from websockets.client import WebSocketClientProtocol, connect
from websockets.exceptions import ConnectionClosed

from connectors.base import KesherInputChannel
from connectors.delivery import DeliveryTimings
from connectors.runtime import ChannelRuntime
from connectors.whatsapp import WhatsAppChannel
from core.settings import Settings
from tests.helpers import fake_telegram, fake_twilio
from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.fake_twilio import FakeTwilio
from tests.helpers.sanic_server import serving
from wiring.container import Container

BUTTONS = [{"title": "Track my order", "payload": "/order_status"}, {"title": "Talk to a person",
                                                                      "payload": "/human_handoff"}]


class EchoBot:
    """Stands in for Rasa: answers every message with ``bot: <text>`` and two buttons."""

    def __init__(self) -> None:
        self.seen: List[Tuple[str, str]] = []  # (sender id, text)
        self.fail_next = 0  # raise on this many messages, as a broken Rasa would

    @property
    def texts(self) -> List[str]:
        return [text for _, text in self.seen]

    async def __call__(self, message: UserMessage) -> None:
        self.seen.append((message.sender_id, message.text))
        if self.fail_next:
            self.fail_next -= 1
            raise RuntimeError("the model failed")
        await message.output_channel.send_response(
            message.sender_id, {"text": f"bot: {message.text}", "buttons": BUTTONS}
        )


@dataclass
class ChannelApp:
    """A served channel: its base URL (``.../webhooks/<name>``), the channel, runtime and bot."""

    base: str
    channel: KesherInputChannel
    rt: ChannelRuntime
    bot: EchoBot


# The delivery worker's timings in tests: a message left unacknowledged (a failed send) is taken up
# again after 0.3 s instead of 15 s, so a retry is seen at once.
TEST_CLAIM_IDLE_MS = 300
TEST_RECLAIM_EVERY_SECONDS = 0.1
TEST_BLOCK_MS = 100


# A delivery worker that retries within a fraction of a second (production waits 15 s, then backs off from 5 s).
FAST_DELIVERY = DeliveryTimings(claim_idle_ms=TEST_CLAIM_IDLE_MS, reclaim_every_seconds=TEST_RECLAIM_EVERY_SECONDS,
                                block_ms=TEST_BLOCK_MS, backoff_seconds=0.1, backoff_max_seconds=1.0)


def whatsapp_on(twilio: FakeTwilio) -> Callable[[ChannelRuntime], WhatsAppChannel]:
    """Builds the WhatsApp channel on a runtime, sending through the fake Twilio (for :func:`serving_channel`)."""

    def make(rt: ChannelRuntime) -> WhatsAppChannel:
        return WhatsAppChannel(fake_twilio.DEFAULT_ACCOUNT_SID, fake_twilio.DEFAULT_AUTH_TOKEN,
                               fake_twilio.WHATSAPP_FROM, api_base=twilio.base_url, rt=rt)

    return make


@asynccontextmanager
async def serving_channel(
    make: Callable[[ChannelRuntime], KesherInputChannel], settings: Settings, bot: Optional[EchoBot] = None,
    delivery: DeliveryTimings = FAST_DELIVERY,
) -> AsyncIterator[ChannelApp]:
    """Serves one channel (with its own runtime and a fast delivery worker) on a free loopback port."""
    container = Container(settings)
    rt = ChannelRuntime(container, delivery=delivery)
    channel = make(rt)
    bot = bot or EchoBot()
    app = Sanic(f"channel-{channel.name()}-{uuid.uuid4().hex[:8]}")
    app.blueprint(channel.blueprint(bot), url_prefix=f"/webhooks/{channel.name()}")
    async with serving(app) as base:
        yield ChannelApp(f"{base}/webhooks/{channel.name()}", channel, rt, bot)


@dataclass
class Reply:
    """What reached the customer: the text and the choices offered with it."""

    text: str
    buttons: List[str] = field(default_factory=list)


class WhatsAppCustomer:
    """A WhatsApp user: Twilio-signed webhooks in, replies read at the fake Twilio API."""

    def __init__(self, base: str, twilio: FakeTwilio, phone: str = "+972501234567",
                 auth_token: str = fake_twilio.DEFAULT_AUTH_TOKEN) -> None:
        self.base, self.twilio, self.phone, self.auth_token = base, twilio, phone, auth_token
        self.address = phone

    async def post(self, params: Dict[str, str], path: str = "/webhook", signature: Optional[str] = None,
                   ) -> httpx.Response:
        url = self.base + path
        headers = fake_twilio.signed_webhook(url, params, self.auth_token)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(url, data=params, headers=headers)

    async def say(self, text: str, message_id: Optional[str] = None,
                  media: Tuple[Tuple[str, str], ...] = ()) -> httpx.Response:
        params = fake_twilio.inbound_params(self.phone, body=text, message_sid=message_id, media=media,
                                            profile_name="Dana")
        return await self.post(params)

    async def tap(self, title: str, button_id: str) -> httpx.Response:
        """Taps a quick-reply button of a template message."""
        params = fake_twilio.inbound_params(self.phone, button=(title, button_id), profile_name="Dana")
        return await self.post(params)

    async def replies(self, count: int, seconds: float = 30) -> List[Reply]:
        sent = await self.twilio.wait_for_async("whatsapp:" + self.phone, count, seconds)
        return [Reply(m.body) for m in sent]

    def received(self) -> List[Reply]:
        return [Reply(m.body) for m in self.twilio.messages_to("whatsapp:" + self.phone)]


class TelegramCustomer:
    """A Telegram user: updates with the secret header in, replies read at the fake Bot API."""

    _update_ids = itertools.count(1000)

    def __init__(self, base: str, telegram: FakeTelegram, chat_id: int = 424242, secret: str = "") -> None:
        self.base, self.telegram, self.chat_id, self.secret = base, telegram, chat_id, secret
        self.address = str(chat_id)

    async def post(self, update: Dict[str, Any], secret: Optional[str] = None) -> httpx.Response:
        headers = fake_telegram.webhook_headers(self.secret if secret is None else secret)
        async with httpx.AsyncClient(timeout=30) as http:
            return await http.post(self.base + "/webhook", content=json.dumps(update), headers=headers)

    async def say(self, text: str, message_id: Optional[str] = None) -> httpx.Response:
        update_id = int(message_id) if message_id else next(self._update_ids)
        return await self.post(fake_telegram.text_update(update_id, self.chat_id, text))

    async def press(self, data: str, message_id: int) -> httpx.Response:
        return await self.post(fake_telegram.callback_update(next(self._update_ids), self.chat_id, data, message_id))

    async def replies(self, count: int, seconds: float = 30) -> List[Reply]:
        calls = await self.telegram.wait_for_async("sendMessage", count, seconds, chat_id=self.chat_id)
        return [_telegram_reply(c.params) for c in calls]

    def received(self) -> List[Reply]:
        return [_telegram_reply(m) for m in self.telegram.sent_messages(self.chat_id)]


def _telegram_reply(params: Dict[str, Any]) -> Reply:
    markup = params.get("reply_markup") or {}
    titles = [b["text"] for row in markup.get("inline_keyboard", []) for b in row]
    return Reply(str(params.get("text", "")), titles)


class WebCustomer:
    """The widget: a signed session, the websocket, and every frame it receives."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.session: Dict[str, str] = {}
        self.frames: List[Dict[str, Any]] = []
        self.ws: Optional[WebSocketClientProtocol] = None
        self._reader: Optional[asyncio.Task[None]] = None
        self._arrived = asyncio.Event()

    @property
    def address(self) -> str:
        return self.session["session"]

    @property
    def socket(self) -> WebSocketClientProtocol:
        """The open websocket (after :meth:`open`)."""
        assert self.ws is not None, "the widget is not connected: call open() first"
        return self.ws

    async def open(self, after: int = 0) -> Dict[str, Any]:
        """Gets a session (once) and connects; returns the hello frame."""
        if not self.session:
            async with httpx.AsyncClient(timeout=30) as http:
                response = await http.post(self.base + "/session")
            assert response.status_code == 200, response.text
            self.session = response.json()
        self.ws = await connect(self.base.replace("http://", "ws://") + "/socket", max_size=2**22)
        await self.ws.send(json.dumps({"type": "hello", **self.session, "after": after}))
        hello: Dict[str, Any] = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        self._reader = asyncio.create_task(self._read())
        return hello

    async def _read(self) -> None:
        try:
            async for raw in self.socket:
                self.frames.append(json.loads(raw))
                self._arrived.set()
        except ConnectionClosed:
            pass

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._reader is not None:
            await self._reader

    async def say(self, text: str, message_id: Optional[str] = None, payload: str = "") -> None:
        frame: Dict[str, Any] = {"type": "message", "text": text, "message_id": message_id or uuid.uuid4().hex}
        if payload:
            frame["payload"] = payload
        await self.socket.send(json.dumps(frame))

    def messages(self, roles: Tuple[str, ...] = ("bot", "agent", "system")) -> List[Dict[str, Any]]:
        return [f for f in self.frames if f["type"] == "message" and f["role"] in roles]

    async def wait(self, predicate: Callable[[List[Dict[str, Any]]], bool], seconds: float = 30) -> None:
        async def _loop() -> None:
            while not predicate(self.frames):
                self._arrived.clear()
                await self._arrived.wait()

        await asyncio.wait_for(_loop(), seconds)

    async def replies(self, count: int, seconds: float = 30) -> List[Reply]:
        await self.wait(lambda _: len(self.messages()) >= count, seconds)
        return [Reply(m["text"], [b["title"] for b in m["buttons"]]) for m in self.messages()]

    def received(self) -> List[Reply]:
        return [Reply(m["text"], [b["title"] for b in m["buttons"]]) for m in self.messages()]
