"""The widget against abuse: malformed sessions and frames get a 4xx, sessions expire, origins, rate limits."""

from __future__ import annotations

import json
from typing import Any, Dict, List

import httpx
import pytest
from websockets.client import connect
from websockets.exceptions import ConnectionClosed

from connectors.web import WebChannel
from core.settings import Settings
from tests.connectors.conftest import WEB_SECRET
from tests.helpers.channels import ChannelApp, WebCustomer, serving_channel
from tests.helpers.texts import catalog


async def hello_refusal(app: ChannelApp, hello: str) -> Dict[str, Any]:
    """Sends ``hello`` (raw text) as the socket's first frame; returns the error frame and checks the close."""
    async with connect(app.base.replace("http://", "ws://") + "/socket") as ws:
        await ws.send(hello)
        refusal: Dict[str, Any] = json.loads(await ws.recv())
        with pytest.raises(ConnectionClosed) as closed:
            await ws.recv()
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4000 + refusal["status"]
    return refusal


BAD_SESSIONS = [
    ({"session": "abc", "token": "\u05d0" * 70}, 403, "malformed"),
    ({"session": "\u05e9\u05dc\u05d5\u05dd", "token": "1." + "0" * 64}, 403, "malformed"),
    ({"session": "abc", "token": "1." + "\u00e9" * 64}, 403, "malformed"),
    ({"session": "abc", "token": 12}, 403, "required"),
    ({"session": "abc", "token": "99999999999999999999." + "0" * 64}, 403, "malformed"),
]
BAD_IDS = ["non-ascii-token", "non-ascii-session", "latin-token", "token-not-text", "huge-issued-at"]
LONE_SURROGATES = [
    '{"type": "hello", "session": "abc\\ud800", "token": "1.00"}',
    '{"type": "hello", "session": "abc", "token": "\\udfff"}',
]


@pytest.mark.parametrize(("fields", "status", "reason"), BAD_SESSIONS, ids=BAD_IDS)
async def test_a_malformed_session_on_the_socket_gets_a_4xx_frame(web, fields: Dict[str, Any], status: int,
                                                                  reason: str) -> None:
    app, _ = web
    refusal = await hello_refusal(app, json.dumps({"type": "hello", **fields, "after": 0}))
    assert refusal["type"] == "error" and refusal["status"] == status and reason in refusal["error"]


@pytest.mark.parametrize(("fields", "status", "reason"), BAD_SESSIONS, ids=BAD_IDS)
async def test_a_malformed_session_over_http_gets_a_4xx(web, fields: Dict[str, Any], status: int,
                                                        reason: str) -> None:
    app, _ = web
    async with httpx.AsyncClient() as http:
        response = await http.post(app.base + "/webhook", json={**fields, "text": "hi"})
    assert response.status_code == status and reason in response.json()["error"]
    assert app.bot.seen == []


@pytest.mark.parametrize("hello", LONE_SURROGATES, ids=["in-session", "in-token"])
async def test_a_lone_surrogate_in_a_session_gets_400(web, hello: str) -> None:
    app, _ = web
    refusal = await hello_refusal(app, hello)
    assert refusal["status"] == 400 and "not valid Unicode" in refusal["error"]
    async with httpx.AsyncClient() as http:
        response = await http.post(app.base + "/webhook", content=hello.replace('"type": "hello", ', '"text": "hi", '),
                                   headers={"content-type": "application/json"})
    assert response.status_code == 400 and "not valid Unicode" in response.json()["error"]
    assert app.bot.seen == []


async def test_json_nested_5000_deep_gets_400_and_the_socket_stays_open(web) -> None:
    app, customer = web
    await customer.open()
    await customer.socket.send('{"type": "message", "text": "hi", "x": ' + "[" * 5000 + "]" * 5000 + "}")
    await customer.socket.send('{"type": "message", "text": "hi \\ud800"}')
    await customer.wait(lambda frames: len([f for f in frames if f["type"] == "error"]) == 2)
    errors = [f for f in customer.frames if f["type"] == "error"]
    assert [f["status"] for f in errors] == [400, 400]
    assert "deeper than" in errors[0]["error"] and "not valid Unicode" in errors[1]["error"]
    await customer.say("still here?")
    await customer.replies(1)
    assert app.bot.texts == ["still here?"]
    refusal = await hello_refusal(app, '{"type": "hello", "x": ' + "[" * 5000 + "]" * 5000 + "}")
    assert refusal["status"] == 400


async def test_a_session_expires_after_its_max_age(channel_settings: Settings, redis_client: Any) -> None:
    now = [1_800_000_000.0]
    settings = channel_settings.replace(web_session_max_age=3600)
    async with serving_channel(lambda rt: WebChannel(WEB_SECRET, rt=rt, clock=lambda: now[0]), settings) as app:
        customer = WebCustomer(app.base)
        hello = await customer.open()
        assert hello["type"] == "hello"
        await customer.close()
        now[0] += 3601  # an hour and a second later the same session is refused; the widget starts a new one
        refusal = await hello_refusal(app, json.dumps({"type": "hello", **customer.session, "after": 0}))
        assert refusal["status"] == 403 and "expired" in refusal["error"]
        async with httpx.AsyncClient() as http:
            response = await http.post(app.base + "/webhook", json={**customer.session, "text": "hi"})
            fresh = (await http.post(app.base + "/session")).json()
        assert response.status_code == 403 and "expired" in response.json()["error"]
        assert app.bot.seen == []
        again = WebCustomer(app.base)
        again.session = fresh
        assert (await again.open())["type"] == "hello"
        await again.close()


async def test_a_forged_issue_time_does_not_renew_a_session(web) -> None:
    app, customer = web
    await customer.open()
    issued, digest = customer.session["token"].split(".")
    forged = {"session": customer.session["session"], "token": f"{int(issued) + 10}.{digest}"}
    refusal = await hello_refusal(app, json.dumps({"type": "hello", **forged, "after": 0}))
    assert refusal["status"] == 403 and "not issued here" in refusal["error"]


@pytest.mark.parametrize(("origins", "origin", "allowed"), [
    ("", "own", True),
    ("", "https://evil.example", False),
    ("https://shop.example", "https://shop.example", True),
    ("https://shop.example", "own", True),
    ("https://shop.example", "https://evil.example", False),
    ("*", "https://evil.example", True),
], ids=["own-by-default", "other-by-default", "listed", "own-with-list", "unlisted", "any"])
async def test_only_the_configured_origins_and_its_own_may_use_the_widget(
        channel_settings: Settings, redis_client: Any, origins: str, origin: str, allowed: bool) -> None:
    async with serving_channel(lambda rt: WebChannel(WEB_SECRET, allowed_origins=origins, rt=rt),
                               channel_settings) as app:
        origin = app.base.split("/webhooks")[0] if origin == "own" else origin
        async with httpx.AsyncClient() as http:
            response = await http.post(app.base + "/session", headers={"origin": origin})
        if allowed:
            assert response.status_code == 200 and response.headers["access-control-allow-origin"] == origin
        else:
            assert response.status_code == 403 and "KESHER_WEB_ORIGINS" in response.json()["error"]
            assert "access-control-allow-origin" not in response.headers


async def test_too_many_new_sessions_from_one_address_get_429(channel_settings: Settings, redis_client: Any) -> None:
    settings = channel_settings.replace(limit_sessions_per_source="3/600")
    async with serving_channel(lambda rt: WebChannel(WEB_SECRET, rt=rt), settings) as app:
        async with httpx.AsyncClient() as http:
            responses = [await http.post(app.base + "/session") for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert 1 <= int(responses[-1].headers["retry-after"]) <= 600
    assert "too many new chat sessions" in responses[-1].json()["error"]


async def test_too_many_messages_on_the_socket_get_a_polite_refusal_and_the_socket_stays_open(
        channel_settings: Settings, redis_client: Any) -> None:
    settings = channel_settings.replace(limit_messages_per_sender="3/60")
    async with serving_channel(lambda rt: WebChannel(WEB_SECRET, rt=rt), settings) as app:
        customer = WebCustomer(app.base)
        await customer.open()
        for i in range(4):
            await customer.say(f"message {i}")
        await customer.wait(lambda frames: any(f["type"] == "error" for f in frames)
                            and len(customer.messages()) == 3)
        [refusal] = [f for f in customer.frames if f["type"] == "error"]
        assert refusal["status"] == 429 and 1 <= refusal["retry_after"] <= 60
        assert app.bot.texts == ["message 0", "message 1", "message 2"]
        # Over HTTP too, for the same session: 429 with Retry-After.
        async with httpx.AsyncClient() as http:
            response = await http.post(app.base + "/webhook", json={**customer.session, "text": "more"})
        assert response.status_code == 429 and response.headers["retry-after"]
        await customer.close()


def test_the_widget_has_a_polite_text_for_429_in_both_languages() -> None:
    texts: List[str] = [catalog().text("widget_slow_down", language) for language in ("he", "en")]
    assert all(texts) and texts[0] != texts[1]
