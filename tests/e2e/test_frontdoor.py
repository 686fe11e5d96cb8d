"""The TLS front door in front of the real stack, over https with a certificate issued for the test.

The session's stack (redis, actions, models, the handoff service) is shared; this
module adds a second ``rasa run`` whose public URL is the door's
(``https://localhost:<port>``, implied by ``KESHER_PUBLIC_HOST``), and nginx in
front of it and the handoff service, both started by the supervisor.
"""

from __future__ import annotations

import asyncio
import json
from typing import Iterator, List

import httpx
import pytest
from twilio.request_validator import RequestValidator
from websockets.client import connect

from core.processes import free_port
from core.settings import Settings
from kesher.supervisor import Supervisor
from tests.frontdoor.certs import LocalTls, issue_local_tls
from tests.helpers import fake_twilio
from tests.helpers.waiting import until

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> LocalTls:
    return issue_local_tls(tmp_path_factory.mktemp("door-tls"))


@pytest.fixture(scope="module")
def door(stack: Supervisor, stack_settings: Settings, tls: LocalTls) -> Iterator[Settings]:
    settings = stack_settings.replace(
        rasa_port=free_port(), public_host="localhost", public_port=free_port(), public_bind="127.0.0.1",
        tls_cert=tls.server_cert, tls_key=tls.server_key, public_url="")
    assert settings.public_url == f"https://localhost:{settings.public_port}"
    supervisor = Supervisor(settings, parts=("rasa", "frontdoor"))
    supervisor.start()
    yield settings
    supervisor.stop()


def _client(door: Settings, tls: LocalTls) -> httpx.Client:
    return httpx.Client(base_url=door.public_url, verify=tls.client_context(), timeout=60)


@pytest.mark.parametrize(("method", "path"), [
    ("GET", "/version"), ("GET", "/status"), ("GET", "/"), ("POST", "/webhooks/kesher_rest/webhook"),
    ("GET", "/conversations/web:someone/tracker"), ("POST", "/model/parse"),
    ("POST", "/webhooks/kesher_callback/webhook"), ("GET", "/health"), ("GET", "/webhooks/web/"), ("GET", "/metrics"),
])
def test_what_is_not_public_is_404_at_the_door_though_the_service_answers_it(door, tls, method, path):
    body = {"sender": "attacker", "message": "hi", "text": "hi"}
    with _client(door, tls) as http:
        through = http.request(method, path, json=body)
    assert through.status_code == 404
    direct = httpx.request(method, f"{door.rasa_url}{path}", json=body, timeout=60)
    assert direct.status_code != 404 or path == "/health"  # behind the door, rasa would have answered


def test_the_public_routes_reach_their_services(door, tls):
    with _client(door, tls) as http:
        script = http.get("/webhooks/web/widget.js")
        session = http.post("/webhooks/web/session")
        login = http.get("/console/login")
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert session.status_code == 200 and set(session.json()) == {"session", "token"}
    assert login.status_code == 200 and 'name="csrf_token"' in login.text


async def test_a_twilio_signed_message_over_https_reaches_the_bot_and_an_unsigned_one_is_refused(door, tls, twilio):
    url = f"{door.public_url}/webhooks/whatsapp/webhook"
    phone = "+972521000099"
    params = fake_twilio.inbound_params(phone, body="how much does delivery cost?", profile_name="Door")
    signature = RequestValidator(fake_twilio.DEFAULT_AUTH_TOKEN).compute_signature(url, params)
    async with httpx.AsyncClient(verify=tls.client_context(), timeout=60) as http:
        unsigned = await http.post(url, data=params)
        signed_for_http = await http.post(url, data=params, headers={
            "X-Twilio-Signature": RequestValidator(fake_twilio.DEFAULT_AUTH_TOKEN).compute_signature(
                url.replace("https://", "http://"), params)})
        signed = await http.post(url, data=params, headers={"X-Twilio-Signature": signature})
    assert unsigned.status_code == 403 and "X-Twilio-Signature" in unsigned.json()["error"]
    assert signed_for_http.status_code == 403
    assert signed.status_code == 200 and "<Response>" in signed.text
    replies = await until(lambda: twilio.messages_to("whatsapp:" + phone), what="the bot's answer on WhatsApp",
                          timeout=90, every=0.2)
    assert any("29.90" in m.body for m in replies)


async def test_the_widget_talks_to_the_bot_over_a_websocket_through_the_door(door, tls):
    with _client(door, tls) as http:
        session = http.post("/webhooks/web/session").json()
    url = door.public_url.replace("https://", "wss://") + "/webhooks/web/socket"
    async with connect(url, ssl=tls.client_context(), max_size=2**22, open_timeout=30) as ws:
        await ws.send(json.dumps({"type": "hello", **session, "after": 0}))
        hello = json.loads(await asyncio.wait_for(ws.recv(), 30))
        assert hello["type"] == "hello"
        await ws.send(json.dumps({"type": "message", "text": "how much does delivery cost?"}))
        texts: List[str] = []
        while not any("29.90" in t for t in texts):
            frame = json.loads(await asyncio.wait_for(ws.recv(), 90))
            if frame.get("type") == "message" and frame.get("role") == "bot":
                texts.append(frame["text"])
