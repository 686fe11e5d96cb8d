"""Fuzz every customer webhook: the web widget (session, webhook, socket), WhatsApp, Telegram, callback, REST.

Property: whatever arrives (malformed JSON, wrong types, deep nesting, huge
strings, lone surrogates, odd headers), the answer is never a 5xx and every 4xx
carries its reason. Forgeries are signed correctly most of the time, so the
handlers run past their authentication. Bounded: a fixed number of examples per
route, derandomized, no example database (the same inputs on every run).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import uuid
from typing import Any, Dict, Optional, Tuple
from urllib.parse import urlencode

import httpx
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator
from websockets.client import connect
from websockets.exceptions import ConnectionClosed

from connectors.callback import SECRET_HEADER
from handoff.email_codes import email_digest
from handoff.notices import UNSUBSCRIBE_PATH, unsubscribe_token
from tests.fuzz.checks import check, check_close, check_frame
from tests.fuzz.servers import CALLBACK_SECRET, REST_TOKEN, TELEGRAM_SECRET, FuzzServers
from tests.fuzz.strategies import (
    Body,
    deep,
    dumped,
    encoded,
    form_params,
    json_bodies,
    json_values,
    odd_headers,
    odd_text,
    raw_headers,
)
from tests.helpers import fake_telegram, fake_twilio

FUZZ = settings(max_examples=50, derandomize=True, database=None, deadline=None, print_blob=True,
                report_multiple_bugs=False, suppress_health_check=list(HealthCheck))
SOCKET_FUZZ = settings(FUZZ, max_examples=25)
# A websocket frame over Sanic's 1 MiB limit is refused by the protocol itself (close 1009), racing the send.
SOCKET_FRAME_BYTES = 900_000
JSON = {"content-type": "application/json"}


_fresh = itertools.count(1)
_TEMPLATE_IDS = {'"m-1"', '"f-1"', '"c-1"', '"update_id": 5001', '"update_id": 5002', '"update_id": 5003'}


def fresh_ids(body: Body) -> Body:
    """The examples' message and update ids made new for each input, so none is dropped as a provider's retry."""
    if isinstance(body, str):
        for template in _TEMPLATE_IDS:
            if template in body:
                number = next(_fresh)
                new = f'"update_id": {10_000 + number}' if "update_id" in template else f'"fuzz-{uuid.uuid4().hex}"'
                body = body.replace(template, new)
    return body


def post(url: str, body: Body, headers: Dict[str, str]) -> httpx.Response:
    body = fresh_ids(body)
    with httpx.Client(timeout=30) as http:
        return http.post(url, content=encoded(body), headers=raw_headers(headers))


def _web_session(fuzz: FuzzServers) -> Dict[str, str]:
    assert fuzz.web is not None
    return fuzz.web.new_session()


def test_web_session(fuzz):
    @FUZZ
    @given(body=json_bodies({}), headers=odd_headers())
    def run(body: Body, headers: Dict[str, str]) -> None:
        check("POST /webhooks/web/session", post(f"{fuzz.channels_url}/webhooks/web/session", body, headers),
              {"body": body, "headers": headers})

    run()


def test_web_webhook(fuzz):
    session = _web_session(fuzz)
    valid = {**session, "text": "where is my order?", "message_id": "m-1", "payload": "/order_status"}

    @FUZZ
    @given(body=json_bodies(valid, {**session, "text": "hi"}), headers=odd_headers())
    @example(body=deep(5_000, "list"), headers=JSON)
    def run(body: Body, headers: Dict[str, str]) -> None:
        headers = {**headers, "content-type": "application/json"} if "origin" not in headers else headers
        check("POST /webhooks/web/webhook", post(f"{fuzz.channels_url}/webhooks/web/webhook", body, headers),
              {"body": body, "headers": headers})

    run()


def test_notice_unsubscribe(fuzz):
    digest = email_digest("fuzz.customer@example.com")
    valid = {"e": digest, "t": unsubscribe_token(fuzz.settings.notices_secret, digest), "lang": "he"}

    @FUZZ
    @given(params=form_params(valid), method=st.sampled_from(["GET", "POST", "POST"]),
           body=st.sampled_from(["List-Unsubscribe=One-Click", "", "List-Unsubscribe=\udcff", "\x00" * 3000]),
           headers=odd_headers())
    def run(params: Dict[str, str], method: str, body: str, headers: Dict[str, str]) -> None:
        query = urlencode(params, encoding="utf-8", errors="surrogatepass")[:8000]  # httpx refuses longer URLs
        with httpx.Client(timeout=30) as http:
            response = http.request(method, f"{fuzz.channels_url}{UNSUBSCRIBE_PATH}?{query}",
                                    content=encoded(body) if method == "POST" else None,
                                    headers=raw_headers(headers))
        check(f"{method} {UNSUBSCRIBE_PATH}", response, {"params": params, "body": body, "headers": headers})

    run()


async def _socket(url: str, frames: Tuple[str, ...]) -> Tuple[list, Optional[int]]:
    """Sends ``frames`` (a hello first), then a frame that is always refused as a marker; returns what came back."""
    received: list = []
    async with connect(url, max_size=2**24, open_timeout=15, close_timeout=5) as ws:
        try:
            for frame in frames:
                await ws.send(frame)
            await ws.send('{"type": "fuzz-marker"}')
            while True:
                answer = json.loads(await asyncio.wait_for(ws.recv(), 15))
                received.append(answer)
                if answer.get("type") == "error" and "frames are" in str(answer.get("error")):
                    return received, None
        except ConnectionClosed:
            return received, ws.close_code
    return received, ws.close_code


def test_web_socket_hello(fuzz):
    session = _web_session(fuzz)
    url = fuzz.channels_url.replace("http://", "ws://") + "/webhooks/web/socket"

    @SOCKET_FUZZ
    @given(hello=json_bodies({"type": "hello", **session, "after": 0}).filter(
        lambda b: len(encoded(b)) < SOCKET_FRAME_BYTES))
    @example(hello=deep(5_000, "list"))
    @example(hello=dumped({"type": "hello", "session": "\ud800", "token": "é"}))
    def run(hello: Body) -> None:
        text = hello.decode("latin-1") if isinstance(hello, bytes) else hello
        received, code = asyncio.run(_socket(url, (text,)))
        sent = {"hello": hello}
        first = received[0] if received else {}
        if first.get("type") == "hello":
            check_close("WS /webhooks/web/socket (hello)", code if code is not None else 1000, sent)
        elif first.get("type") == "error":
            check_frame("WS /webhooks/web/socket (hello)", first, sent)
            assert code is None or 4400 <= code < 4500, f"closed with {code} after {first}"
        else:
            check_close("WS /webhooks/web/socket (hello)", code, sent)

    run()


def test_web_socket_frames(fuzz):
    session = _web_session(fuzz)
    url = fuzz.channels_url.replace("http://", "ws://") + "/webhooks/web/socket"
    hello = json.dumps({"type": "hello", **session, "after": 0})

    @SOCKET_FUZZ
    @given(frame=json_bodies({"type": "message", "text": "hello there", "message_id": "f-1", "payload": "/greet"},
                             {"type": "typing"}).filter(lambda b: len(encoded(b)) < SOCKET_FRAME_BYTES))
    @example(frame=deep(5_000, "list"))
    def run(frame: Body) -> None:
        text = frame.decode("latin-1") if isinstance(frame, bytes) else str(fresh_ids(frame))
        received, code = asyncio.run(_socket(url, (hello, text)))
        errors = [f for f in received[1:] if f.get("type") == "error"]
        sent = {"frame": frame}
        if code is not None:
            check_close("WS /webhooks/web/socket (frames)", code, sent)
        for error in errors[:-1]:  # the last one answers the marker
            check_frame("WS /webhooks/web/socket (frames)", error, sent)
        if code is None and len(errors) == 1:
            check_close("WS /webhooks/web/socket (frames)", 1000, sent)

    run()


WHATSAPP_MESSAGE = fake_twilio.inbound_params("+972501234567", body="where is my order?", message_sid="SM-template",
                                              profile_name="Dana")


def _twilio_post(fuzz: FuzzServers, path: str, params: Dict[str, str], sign: str,
                 headers: Dict[str, str]) -> httpx.Response:
    url = f"{fuzz.channels_url}/webhooks/whatsapp/{path}"
    if params.get("MessageSid") == "SM-template":
        params = {**params, "MessageSid": f"SM{uuid.uuid4().hex}"}
    body = urlencode(params, encoding="utf-8", errors="surrogatepass")
    headers = {**headers, "content-type": "application/x-www-form-urlencoded"} if sign != "odd" else headers
    try:
        signature = RequestValidator(fake_twilio.DEFAULT_AUTH_TOKEN).compute_signature(url, params)
    except UnicodeEncodeError:
        signature = "not-computable"
    headers = {**headers, "x-twilio-signature": {"right": signature, "wrong": "AAAA", "odd": headers.get(
        "x-twilio-signature", "")}[sign]}
    return post(url, body, headers)


def test_whatsapp_webhook(fuzz):
    @FUZZ
    @given(params=form_params(WHATSAPP_MESSAGE), sign=st.sampled_from(["right", "right", "right", "wrong", "odd"]),
           headers=odd_headers())
    def run(params: Dict[str, str], sign: str, headers: Dict[str, str]) -> None:
        check("POST /webhooks/whatsapp/webhook", _twilio_post(fuzz, "webhook", params, sign, headers),
              {"params": params, "sign": sign, "headers": headers})

    run()


def test_whatsapp_status(fuzz):
    valid = {"MessageSid": "SM0123", "MessageStatus": "delivered", "AccountSid": fake_twilio.DEFAULT_ACCOUNT_SID,
             "To": "whatsapp:+972501234567"}

    @FUZZ
    @given(params=form_params(valid), sign=st.sampled_from(["right", "right", "wrong", "odd"]),
           headers=odd_headers())
    def run(params: Dict[str, str], sign: str, headers: Dict[str, str]) -> None:
        check("POST /webhooks/whatsapp/status", _twilio_post(fuzz, "status", params, sign, headers),
              {"params": params, "sign": sign, "headers": headers})

    run()


def test_telegram_webhook(fuzz):
    text = fake_telegram.text_update(5001, 4242, "where is my order?")
    press = fake_telegram.callback_update(5002, 4242, "/order_status", message_id=77)
    start = fake_telegram.text_update(5003, 4242, "/start")

    @FUZZ
    @given(body=json_bodies(text, press, start), secret=st.sampled_from([TELEGRAM_SECRET] * 4 + ["", "wrong"]),
           headers=odd_headers())
    @example(body=dumped(text), secret=TELEGRAM_SECRET, headers=JSON)  # the happy path is always among them
    @example(body=dumped({"update_id": 1, "message": "x"}), secret=TELEGRAM_SECRET, headers=JSON)
    @example(body=dumped({"update_id": 2, "message": {"message_id": 1, "date": 1, "text": "hi"}}),
             secret=TELEGRAM_SECRET, headers=JSON)
    @example(body=dumped({"update_id": 3, "message": {"message_id": 1, "date": 10**30, "text": "hi",
                                                      "chat": {"id": 1, "type": "private"}}}),
             secret=TELEGRAM_SECRET, headers=JSON)
    @example(body=dumped({"update_id": 4, "callback_query": {"id": "q", "from": {"id": 1, "is_bot": False,
             "first_name": "D"}, "chat_instance": "c", "data": 5}}), secret=TELEGRAM_SECRET, headers=JSON)
    def run(body: Body, secret: str, headers: Dict[str, str]) -> None:
        headers = {**headers, "x-telegram-bot-api-secret-token": secret} if secret else headers
        check("POST /webhooks/telegram/webhook",
              post(f"{fuzz.channels_url}/webhooks/telegram/webhook", body, headers),
              {"body": body, "headers": headers})

    run()


def test_callback_webhook(fuzz):
    @FUZZ
    @given(body=json_bodies({"sender": "fuzz-customer", "message": "hi", "message_id": "c-1"}),
           headers=odd_headers())
    @example(body=dumped({"sender": "fuzz-customer", "message": "hi"}), headers=JSON)
    @example(body=dumped({"sender": "\ud800", "message": "hi"}), headers=JSON)
    def run(body: Body, headers: Dict[str, str]) -> None:
        headers = {**headers, SECRET_HEADER: CALLBACK_SECRET}  # the handler runs: the fuzz is of the body
        check("POST /webhooks/kesher_callback/webhook",
              post(f"{fuzz.channels_url}/webhooks/kesher_callback/webhook", body, headers),
              {"body": body, "headers": headers})

    run()


def test_rest_webhook(fuzz):
    @FUZZ
    @given(body=json_bodies({"sender": "fuzz-rest", "message": "hi", "metadata": {}}), headers=odd_headers())
    @example(body=dumped({"sender": "fuzz-rest", "message": "hi"}), headers=JSON)
    @example(body="[]", headers=JSON)
    def run(body: Body, headers: Dict[str, str]) -> None:
        headers = {**headers, "authorization": f"Bearer {REST_TOKEN}"}
        check("POST /webhooks/kesher_rest/webhook",
              post(f"{fuzz.channels_url}/webhooks/kesher_rest/webhook", body, headers),
              {"body": body, "headers": headers})

    run()


def test_channel_health_and_unknown_paths(fuzz):
    @FUZZ
    @given(name=st.sampled_from(["web", "whatsapp", "telegram", "kesher_callback", "kesher_rest"]), tail=odd_text,
           query=st.dictionaries(odd_text, odd_text, max_size=2), value=json_values)
    def run(name: str, tail: str, query: Dict[str, str], value: Any) -> None:
        path = f"/webhooks/{name}/" + tail.encode("utf-8", "surrogatepass").hex()
        with httpx.Client(timeout=30) as http:
            response = http.get(fuzz.channels_url + path, params={k.encode("utf-8", "surrogatepass").hex(): str(v)
                                                                     for k, v in query.items()})
        check("GET /webhooks/<channel>/<odd>", response, {"path": path, "query": query})

    run()
