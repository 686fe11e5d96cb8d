"""Property-based fuzzing of every channel route: whatever a client sends, the answer is never a 5xx.

All five channels are served in one app on one runtime, as ``rasa run`` serves
them, with a stand-in bot. Hypothesis writes the requests: arbitrary JSON
(deep, odd types, lone surrogates, huge numbers), the channels' own shapes
with every field replaced by something else, and raw bytes, each sent with
valid credentials so it reaches the parsing behind them (a signed Twilio form,
Telegram's secret, the callback's secret, the REST token, a real widget
session). Each route gets a bounded number of examples; the status classes
seen are printed (``-s``) for the record.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any, AsyncIterator, Dict, Tuple

import httpx
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.asyncio import Redis
from sanic import Sanic
from websockets.client import connect

from connectors.callback import SECRET_HEADER, CallbackChannel
from connectors.rest import KesherRestChannel
from connectors.runtime import ChannelRuntime
from connectors.telegram import TelegramChannel
from connectors.web import WebChannel
from connectors.whatsapp import WhatsAppChannel
from core.settings import Settings
from tests.helpers import fake_telegram, fake_twilio
from tests.helpers.channels import FAST_DELIVERY, EchoBot
from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.fake_twilio import FakeTwilio
from tests.helpers.redis_server import RedisServer
from tests.helpers.sanic_server import serving
from wiring.container import Container

EXAMPLES = 30  # per route: a few seconds each on this machine
SECRET, TOKEN, TELEGRAM_SECRET = "fuzz-callback-secret", "fuzz-rest-token", "fuzz-telegram-secret"
SEEN: Dict[str, Counter[str]] = {}

FUZZ = settings(max_examples=EXAMPLES, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

texts = st.text(alphabet=st.characters(codec=None), max_size=40) | st.sampled_from(
    ["\ud800", "x\udfff", "", " ", "0", "/start", "k:abc", "whatsapp:+972501234567", "\u05e9\u05dc\u05d5\u05dd"])
scalars = st.none() | st.booleans() | st.integers(min_value=-(10**30), max_value=10**30) | st.floats() | texts
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                           | st.dictionaries(texts, inner, max_size=4), max_leaves=12)
deep = st.integers(min_value=60, max_value=6000).map(lambda n: "[" * n + "]" * n)


def _status(route: str, response_status: int) -> None:
    SEEN.setdefault(route, Counter())[f"{response_status // 100}xx"] += 1
    assert response_status < 500, f"{route} answered {response_status}"


def _body(value: Any) -> bytes:
    if isinstance(value, bytes):
        return value
    # Bytes inside a value (a field replaced by raw bytes) go as Latin-1 text.
    return json.dumps(value, ensure_ascii=True, allow_nan=True, default=lambda b: b.decode("latin-1")).encode()


def shaped(fields: Dict[str, Any]) -> st.SearchStrategy[Any]:
    """A channel's own body with any of its fields replaced, dropped or joined by others; or anything."""
    mutated = st.fixed_dictionaries({k: st.just(v) | json_values for k, v in fields.items()},
                                    optional={"extra": json_values})
    return mutated | json_values | st.binary(max_size=64) | deep


@pytest_asyncio.fixture()
async def served(redis_server: RedisServer, redis_client: Redis, tmp_path: Path, twilio: FakeTwilio,
                 telegram: FakeTelegram) -> AsyncIterator[Tuple[str, Dict[str, str]]]:
    base_settings = Settings(var_dir=tmp_path).with_ports(redis=redis_server.port, rasa=1, actions=1)
    no_limits = base_settings.replace(limit_sessions_per_source="0/60", limit_messages_per_source="0/60",
                                      limit_messages_per_sender="0/60")
    rt = ChannelRuntime(Container(no_limits), delivery=FAST_DELIVERY)
    channels = [
        CallbackChannel("http://127.0.0.1:9/inbox", SECRET, rt=rt),
        KesherRestChannel(TOKEN, rt=rt),
        WebChannel("fuzz-web-secret", rt=rt),
        WhatsAppChannel(fake_twilio.DEFAULT_ACCOUNT_SID, fake_twilio.DEFAULT_AUTH_TOKEN, fake_twilio.WHATSAPP_FROM,
                        api_base=twilio.base_url, rt=rt),
        TelegramChannel(fake_telegram.DEFAULT_TOKEN, TELEGRAM_SECRET, api_base=telegram.base_url, rt=rt),
    ]
    bot = EchoBot()
    app = Sanic("fuzz-channels")
    for channel in channels:
        app.blueprint(channel.blueprint(bot), url_prefix=f"/webhooks/{channel.name()}")
    async with serving(app) as base:
        async with httpx.AsyncClient() as http:
            session = (await http.post(f"{base}/webhooks/web/session")).json()
        yield f"{base}/webhooks", session


async def _post(url: str, content: bytes, headers: Dict[str, str]) -> int:
    async with httpx.AsyncClient(timeout=30) as http:
        return (await http.post(url, content=content, headers=headers)).status_code


@FUZZ
@given(body=shaped({"sender": "fuzz-1", "message": "hi", "message_id": "m-1"}))
async def test_the_callback_webhook_never_answers_5xx(served, body: Any) -> None:
    base, _ = served
    _status("kesher_callback/webhook", await _post(f"{base}/kesher_callback/webhook", _body(body),
                                                   {SECRET_HEADER: SECRET, "content-type": "application/json"}))


@FUZZ
@given(body=shaped({"sender": "fuzz-1", "message": "hi"}))
async def test_the_rest_webhook_never_answers_5xx(served, body: Any) -> None:
    base, _ = served
    _status("kesher_rest/webhook", await _post(f"{base}/kesher_rest/webhook", _body(body),
                                               {"authorization": f"Bearer {TOKEN}"}))


@FUZZ
@given(body=shaped({"session": "s", "token": "t", "text": "hi", "payload": "/greet", "message_id": "m"}),
       real_session=st.booleans())
async def test_the_widget_webhook_never_answers_5xx(served, body: Any, real_session: bool) -> None:
    base, session = served
    if real_session and isinstance(body, dict):
        body = {**body, **session}
    _status("web/webhook", await _post(f"{base}/web/webhook", _body(body), {"content-type": "application/json"}))


@FUZZ
@given(origin=texts.filter(lambda t: t.isascii() and t.isprintable()), body=st.binary(max_size=32))
async def test_new_widget_sessions_never_answer_5xx(served, origin: str, body: bytes) -> None:
    base, _ = served
    _status("web/session", await _post(f"{base}/web/session", body, {"origin": origin} if origin.strip() else {}))


@FUZZ
@given(hello=shaped({"type": "hello", "session": "s", "token": "t", "after": 0}),
       frame=shaped({"type": "message", "text": "hi", "payload": "/greet", "message_id": "m"}))
async def test_the_widget_socket_never_fails(served, hello: Any, frame: Any) -> None:
    base, session = served
    url = base.replace("http://", "ws://") + "/web/socket"
    async with connect(url, max_size=2**22) as ws:
        await ws.send(_body({"type": "hello", **session, "after": 0}).decode())
        assert json.loads(await ws.recv())["type"] == "hello"
        await ws.send(_body(frame).decode("utf-8", "replace"))
        await ws.send(json.dumps({"type": "message", "text": "marker"}))
        while True:  # every frame is answered (an error frame or a reply) and the socket stays open
            answer = json.loads(await ws.recv())
            if answer.get("type") == "error":
                _status("web/socket frame", int(answer["status"]))
            if answer.get("text") == "bot: marker":
                break
    async with connect(url) as ws:
        await ws.send(_body(hello).decode("utf-8", "replace"))
        first = json.loads(await ws.recv())
        _status("web/socket hello", int(first.get("status", 200)) if first.get("type") == "error" else 200)


@FUZZ
@given(params=st.dictionaries(st.sampled_from(["From", "Body", "MessageSid", "NumMedia", "MediaUrl0",
                                               "MediaContentType0", "ProfileName", "MessageStatus"]),
                              texts, max_size=6),
       path=st.sampled_from(["/webhook", "/status"]))
async def test_the_whatsapp_webhooks_never_answer_5xx(served, params: Dict[str, str], path: str) -> None:
    base, _ = served
    url = f"{base}/whatsapp{path}"
    clean = {k: v.encode("utf-8", "replace").decode("utf-8") for k, v in params.items()}
    headers = fake_twilio.signed_webhook(url, clean)
    async with httpx.AsyncClient(timeout=30) as http:
        status = (await http.post(url, data=clean, headers=headers)).status_code
    _status(f"whatsapp{path}", status)


@FUZZ
@given(update=shaped(fake_telegram.text_update(1, 424242, "hi"))
       | shaped(fake_telegram.callback_update(2, 424242, "/greet", message_id=1))
       | st.builds(lambda m: {"update_id": 3, "message": m}, shaped(fake_telegram.text_update(3, 1, "x")["message"])))
async def test_the_telegram_webhook_never_answers_5xx(served, update: Any) -> None:
    base, _ = served
    _status("telegram/webhook", await _post(f"{base}/telegram/webhook", _body(update),
                                            fake_telegram.webhook_headers(TELEGRAM_SECRET)))


def test_zz_print_the_status_classes_seen() -> None:
    """The record for the note (run with -s): inputs per route and the status classes they got."""
    for route, classes in sorted(SEEN.items()):
        print(f"fuzz {route}: {sum(classes.values())} inputs, {dict(sorted(classes.items()))}")
