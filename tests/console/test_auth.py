"""Login, sessions, CSRF, rate limiting and roles, over real HTTP against the running service."""

from __future__ import annotations

import httpx
import pytest
from redis.asyncio import Redis
from websockets.client import connect
from websockets.exceptions import InvalidStatusCode
from websockets.typing import Origin

from console.sessions import SESSION_IDLE_SECONDS, token_digest
from core.redis_keys import RedisKeys
from tests.console.conftest import PASSWORD, WRITER, Service, _hidden, login


async def _login_form(http: httpx.AsyncClient) -> str:
    page = await http.get("/console/login")
    assert page.status_code == 200
    return _hidden(page.text, "csrf_token")


async def test_wrong_password_shows_error_and_sets_no_session(http: httpx.AsyncClient, redis_client: Redis):
    token = await _login_form(http)
    response = await http.post("/console/login", data={"agent_id": "dana", "password": "nope", "csrf_token": token})
    assert response.status_code == 401
    assert "Wrong agent id or password." in response.text
    assert "kesher_session" not in response.cookies
    # the agent id is kept in the form, the password is not
    assert 'value="dana"' in response.text
    assert "nope" not in response.text


async def test_unknown_agent_gets_the_same_message(http: httpx.AsyncClient, redis_client: Redis):
    token = await _login_form(http)
    response = await http.post("/console/login", data={"agent_id": "mallory", "password": "x" * 12,
                                                        "csrf_token": token})
    assert response.status_code == 401
    assert "Wrong agent id or password." in response.text


async def test_login_desk_logout(http: httpx.AsyncClient, redis_client: Redis):
    csrf = await login(http, "dana")
    session_cookie = http.cookies.get("kesher_session")
    assert session_cookie
    key = RedisKeys().session(token_digest(session_cookie))
    assert await redis_client.exists(key)
    ttl = await redis_client.ttl(key)
    assert SESSION_IDLE_SECONDS - 60 < ttl <= SESSION_IDLE_SECONDS
    # the token itself is nowhere in Redis: neither a key nor a value
    for name in await redis_client.keys("*"):
        assert session_cookie not in name
        if await redis_client.type(name) == "hash":
            assert session_cookie not in "".join((await redis_client.hgetall(name)).values())

    desk = await http.get("/console")
    assert "Dana Levi" in desk.text
    assert desk.headers["content-security-policy"].startswith("default-src 'self'")
    assert "script-src 'self'" in desk.headers["content-security-policy"]
    assert "<script>" not in desk.text  # no inline script; boot data is a JSON block only

    out = await http.post("/console/logout", data={"csrf_token": csrf})
    assert out.status_code == 303
    assert out.headers["location"] == "/console/login"
    assert not await redis_client.exists(key)
    http.cookies.clear()
    http.cookies.set("kesher_session", session_cookie, domain="127.0.0.1", path="/console")
    again = await http.get("/console")
    assert again.status_code == 302
    assert again.headers["location"] == "/console/login"


async def test_session_cookie_flags(http: httpx.AsyncClient, redis_client: Redis):
    token = await _login_form(http)
    response = await http.post("/console/login", data={"agent_id": "omer", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    header = next(v for v in response.headers.get_list("set-cookie") if v.startswith("kesher_session="))
    lowered = header.lower()
    assert "httponly" in lowered
    assert "samesite=strict" in lowered
    assert "path=/console" in lowered
    assert "secure" not in lowered  # plain HTTP on loopback


async def test_post_without_csrf_token_is_403(http: httpx.AsyncClient, redis_client: Redis):
    csrf = await login(http, "dana")
    no_token = await http.post("/console/api/presence", json={"status": "online"})
    assert no_token.status_code == 403
    assert "CSRF" in no_token.json()["error"]
    wrong = await http.post("/console/api/presence", json={"status": "online"}, headers={"X-CSRF-Token": "x" * 40})
    assert wrong.status_code == 403
    logout = await http.post("/console/logout")
    assert logout.status_code == 403
    ok = await http.post("/console/api/presence", json={"status": "online"}, headers={"X-CSRF-Token": csrf})
    assert ok.status_code == 200
    assert ok.json() == {"presence": "online"}


async def test_login_form_needs_its_csrf_token(http: httpx.AsyncClient, redis_client: Redis):
    await _login_form(http)
    response = await http.post("/console/login", data={"agent_id": "dana", "password": PASSWORD})
    assert response.status_code == 403
    assert "kesher_session" not in response.cookies


async def test_unauthenticated_api_is_401_and_pages_redirect(http: httpx.AsyncClient, redis_client: Redis):
    for path in ("/console/api/queue", "/console/api/chats", "/console/api/me", "/console/api/chats/x/events"):
        response = await http.get(path)
        assert response.status_code == 401, path
        assert response.json()["error"] == "log in first"
    post = await http.post("/console/api/chats/x/messages", json={"text": "hi"})
    assert post.status_code == 401
    for path in ("/console", "/console/mail"):
        page = await http.get(path)
        assert page.status_code == 302, path
        assert page.headers["location"] == "/console/login"


async def test_failed_logins_are_rate_limited_per_agent(http: httpx.AsyncClient, redis_client: Redis):
    for _ in range(5):
        token = await _login_form(http)
        wrong = await http.post("/console/login", data={"agent_id": "omer", "password": "bad-guess",
                                                         "csrf_token": token})
        assert wrong.status_code == 401
    token = await _login_form(http)
    blocked = await http.post("/console/login", data={"agent_id": "omer", "password": PASSWORD, "csrf_token": token})
    assert blocked.status_code == 429
    assert "Too many failed attempts for omer" in blocked.text
    assert "kesher_session" not in blocked.cookies
    # another agent id is not affected
    await login(http, "dana")


async def test_writer_has_no_desk_and_lands_on_the_writers_pages(http: httpx.AsyncClient, redis_client: Redis):
    token = await _login_form(http)
    response = await http.post("/console/login", data={"agent_id": WRITER, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 303
    page = await http.get("/console")
    assert page.status_code == 302 and page.headers["location"] == "/console/writers"
    assert (await http.get("/console/writers")).status_code == 200
    assert (await http.get("/console/api/queue")).status_code == 403
    assert (await http.get("/console/mail")).status_code == 403


def _ws_url(service: Service) -> str:
    return service.base_url.replace("http://", "ws://") + "/console/ws"


async def test_websocket_needs_a_session(console_service: Service, redis_client: Redis):
    with pytest.raises(InvalidStatusCode) as info:
        async with connect(_ws_url(console_service), origin=Origin(console_service.origin)):
            pass
    assert info.value.status_code == 401


async def test_websocket_checks_the_origin(console_service: Service, http: httpx.AsyncClient, redis_client: Redis):
    await login(http, "dana")
    cookie = f"kesher_session={http.cookies.get('kesher_session')}"
    with pytest.raises(InvalidStatusCode) as info:
        async with connect(_ws_url(console_service), origin=Origin("http://evil.example"),
                           extra_headers={"Cookie": cookie}):
            pass
    assert info.value.status_code == 403
    async with connect(_ws_url(console_service), origin=Origin(console_service.origin),
                       extra_headers={"Cookie": cookie}) as ws:
        hello = await ws.recv()
        assert '"type": "hello"' in hello
        assert '"agent": "dana"' in hello
