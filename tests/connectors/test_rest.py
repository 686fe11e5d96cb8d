"""Kesher's REST channel over real HTTP: its token, its own conversations, Rasa's REST shape, refusals, limits."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from concurrent.futures import Future
from pathlib import Path
from typing import Any, AsyncIterator, Awaitable, Callable, Dict, List, Optional

import httpx
import pytest
import pytest_asyncio
from rasa.core.channels.channel import UserMessage
from redis.asyncio import Redis

from bot.components import sentence_encoder
from bot.components.sentence_encoder import until_encoded_for
from connectors.rest import KesherRestChannel
from core.settings import Settings
from handoff.identity import conversation_id
from tests.helpers.channels import BUTTONS, ChannelApp, EchoBot, serving_channel
from tests.helpers.redis_server import RedisServer

TOKEN = "test-rest-token"
VERIFIED_CID = conversation_id("whatsapp", "+972501234567")
ORDER = "Order 104233: electric kettle, shipped with DHL, tracking RR123456789IL"


class OrderBot(EchoBot):
    """Stands in for Rasa holding a verified customer's tracker: their conversation gets their order.

    ``parse`` (if set) runs first, where Rasa would parse the message.
    """

    def __init__(self) -> None:
        super().__init__()
        self.parse: Optional[Callable[[UserMessage], Awaitable[None]]] = None

    async def __call__(self, message: UserMessage) -> None:
        if self.parse is not None:
            await self.parse(message)
        if message.sender_id == VERIFIED_CID:
            self.seen.append((message.sender_id, message.text))
            await message.output_channel.send_response(message.sender_id, {"text": ORDER})
            return
        await super().__call__(message)


def rest_settings(redis_server: RedisServer, tmp_path: Path, **changes: Any) -> Settings:
    settings = Settings(var_dir=tmp_path).with_ports(redis=redis_server.port, rasa=1, actions=1)
    return settings.replace(**changes) if changes else settings


@pytest_asyncio.fixture()
async def rest(redis_server: RedisServer, redis_client: Redis, tmp_path: Path) -> AsyncIterator[ChannelApp]:
    async with serving_channel(lambda rt: KesherRestChannel(TOKEN, rt=rt), rest_settings(redis_server, tmp_path),
                               bot=OrderBot()) as app:
        yield app


async def post(app: ChannelApp, body: Any, token: Optional[str] = TOKEN) -> httpx.Response:
    headers: Dict[str, str] = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}"
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(app.base + "/webhook", content=content, headers=headers)


async def test_the_answer_has_rasas_rest_shape_and_the_conversation_is_the_channels_own(rest: ChannelApp) -> None:
    response = await post(rest, {"sender": "bench-1", "message": "hello"})
    assert response.status_code == 200, response.text
    assert response.json() == [{"recipient_id": "bench-1", "text": "bot: hello", "buttons": BUTTONS}]
    assert rest.bot.seen == [("kesher_rest:bench-1", "hello")]


async def test_the_bot_parses_a_message_once_its_sentence_vector_is_ready(rest: ChannelApp) -> None:
    encodings: List[Future[Any]] = []
    at_call: List[bool] = []
    at_parse: List[bool] = []

    def slow_prefetch(text: str) -> Future[Any]:  # the encoder's worker, taking 0.3 s
        encoding: Future[Any] = Future()
        encodings.append(encoding)
        threading.Timer(0.3, encoding.set_result, args=(text,)).start()
        return encoding

    async def parse(message: UserMessage) -> None:  # Rasa takes the lock, reads the tracker, then parses
        at_call.append(bool(encodings) and encodings[-1].done())
        await until_encoded_for(message.message_id)  # the wait Rasa's parse_message starts with
        at_parse.append(bool(encodings) and encodings[-1].done())

    rest.rt.prefetch = slow_prefetch
    assert isinstance(rest.bot, OrderBot)
    rest.bot.parse = parse
    started = time.perf_counter()
    response = await post(rest, {"sender": "waits-1", "message": "where is my order?"})
    assert response.status_code == 200 and rest.bot.texts == ["where is my order?"]
    assert len(encodings) == 1 and at_call == [False] and at_parse == [True]  # called at once, parsed once ready
    assert time.perf_counter() - started >= 0.3
    assert not sentence_encoder._AWAITED  # nothing left behind for a message that was handled

    response = await post(rest, {"sender": "waits-1", "message": "/affirm"})  # a button payload: no encoding
    assert response.status_code == 200 and len(encodings) == 1 and at_parse == [True, True]


@pytest.mark.parametrize("sender", [VERIFIED_CID, "+972501234567"], ids=["their-conversation-id", "their-number"])
async def test_a_verified_customers_conversation_id_does_not_return_their_order(rest: ChannelApp, sender: str) -> None:
    # The attack of issue #13: Rasa's REST channel used the sender as the conversation id.
    response = await post(rest, {"sender": sender, "message": "where is my order?"})
    assert response.status_code == 200
    assert "104233" not in response.text and "RR123456789IL" not in response.text
    assert rest.bot.seen == [(f"kesher_rest:{sender}", "where is my order?")]


@pytest.mark.parametrize(("token", "status", "reason"), [
    (None, 401, "Authorization: Bearer"),
    ("", 401, "Authorization: Bearer"),
    ("guess", 403, "token is wrong"),
    ("test-rest-token\u05d0", 403, "token is wrong"),
], ids=["no-header", "empty", "wrong", "non-ascii"])
async def test_without_the_token_nothing_reaches_the_bot(rest: ChannelApp, token: Optional[str], status: int,
                                                         reason: str) -> None:
    headers = {"content-type": "application/json"}
    if token is not None:
        headers["authorization"] = f"Bearer {token}".strip()
    async with httpx.AsyncClient() as http:
        response = await http.post(rest.base + "/webhook",
                                   headers={k.encode(): v.encode() for k, v in headers.items()},
                                   content=json.dumps({"sender": VERIFIED_CID, "message": "where is my order?"}))
    assert response.status_code == status
    assert reason in response.json()["error"]
    assert rest.bot.seen == []


async def test_the_channel_is_off_without_a_token(redis_server: RedisServer, redis_client: Redis,
                                                  tmp_path: Path) -> None:
    async with serving_channel(lambda rt: KesherRestChannel("", rt=rt), rest_settings(redis_server, tmp_path)) as app:
        response = await post(app, {"sender": "me", "message": "hi"}, token="anything")
    assert response.status_code == 404 and "KESHER_REST_TOKEN" in response.json()["error"]
    assert app.bot.seen == []


@pytest.mark.parametrize(("body", "status", "reason"), [
    (b"[1, 2]", 400, "JSON object"),
    (b'"hello"', 400, "JSON object"),
    (b"{not json", 400, "must be JSON"),
    (b'{"sender": "me"}', 400, "message"),
    (b'{"sender": 5, "message": "hi"}', 400, "sender"),
    (b'{"sender": "me\\ud800", "message": "hi"}', 400, "not valid Unicode"),
    (b'{"sender": "me", "message": "' + b"x" * 10_001 + b'"}', 413, "at most 10000 characters"),
    (b'{"sender": "me", "message": "' + b"x" * 2_000_000 + b'"}', 413, "exceeds the size limit"),  # Sanic's cap
    (b'{"sender": "me", "message": "hi", "x": ' + b"[" * 5000 + b"]" * 5000 + b"}", 400, "deeper"),
], ids=["array", "string", "not-json", "no-message", "sender-not-text", "lone-surrogate", "too-long", "2mb",
        "nested-5000"])
async def test_malformed_or_oversized_requests_get_a_4xx_and_nothing_is_stored(
        rest: ChannelApp, body: bytes, status: int, reason: str) -> None:
    response = await post(rest, body)
    assert response.status_code == status, response.text
    assert reason in response.text
    assert rest.bot.seen == []
    assert await rest.rt.redis.keys("kesher:tracker:*") == []


async def test_too_many_messages_from_one_sender_get_429_with_retry_after(
        redis_server: RedisServer, redis_client: Redis, tmp_path: Path) -> None:
    settings = rest_settings(redis_server, tmp_path, limit_messages_per_sender="5/60")
    async with serving_channel(lambda rt: KesherRestChannel(TOKEN, rt=rt), settings) as app:
        # Sent at once: the count is atomic, so exactly five of ten get through.
        responses = await asyncio.gather(*[post(app, {"sender": "flood", "message": f"m{i}"}) for i in range(10)])
        other = await post(app, {"sender": "someone-else", "message": "hi"})
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 5 + [429] * 5
    refused = next(r for r in responses if r.status_code == 429)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert "too many messages from this sender" in refused.json()["error"]
    assert len(app.bot.seen) == 5 + 1 and other.status_code == 200


async def test_too_many_messages_from_one_address_get_429(redis_server: RedisServer, redis_client: Redis,
                                                          tmp_path: Path) -> None:
    settings = rest_settings(redis_server, tmp_path, limit_messages_per_source="3/60")
    async with serving_channel(lambda rt: KesherRestChannel(TOKEN, rt=rt), settings) as app:
        responses = [await post(app, {"sender": f"s{i}", "message": "hi"}) for i in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert "too many messages from this address" in responses[-1].json()["error"]
    assert [text for _, text in app.bot.seen] == ["hi"] * 3


async def test_a_body_over_the_cap_gets_413_before_any_channel_reads_it(
        redis_server: RedisServer, redis_client: Redis, tmp_path: Path) -> None:
    settings = rest_settings(redis_server, tmp_path, max_body_bytes=4096)
    async with serving_channel(lambda rt: KesherRestChannel(TOKEN, rt=rt), settings) as app:
        small = await post(app, {"sender": "me", "message": "x" * 3000})
        big = await post(app, {"sender": "me", "message": "x" * 5000})
    assert small.status_code == 200
    assert big.status_code == 413 and "exceeds the size limit" in big.text
    assert [text for _, text in app.bot.seen] == ["x" * 3000]
