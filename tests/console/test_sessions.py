"""Console sessions: stored under a digest, an idle and an absolute lifetime, ended by a password change;
cookies Secure and HSTS sent whenever the console is reached over HTTPS or has a public URL."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from redis.asyncio import Redis

from console.sessions import SessionStore, password_fingerprint, token_digest
from core.redis_keys import RedisKeys
from handoff.agents import hash_password
from kesher.add_agent import add_agent_cli, upsert_agent
from tests.helpers.console_app import running_console
from tests.helpers.redis_server import RedisServer

PASSWORD = "kesher-demo"


async def _logged_in(client: httpx.AsyncClient, agent_id: str, headers: dict[str, str] | None = None,
                     password: str = PASSWORD) -> httpx.Response:
    """Logs in through the form; the login cookie is sent back by hand (a Secure one would not be over http)."""
    page = await client.get("/console/login", headers=headers or {})
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    client.cookies.clear()
    return await client.post("/console/login", headers={**(headers or {}), "Cookie": f"kesher_login_csrf={token}"},
                             data={"agent_id": agent_id, "password": password, "csrf_token": token})


async def test_a_session_ends_at_its_absolute_lifetime_however_much_it_is_used(redis_client: Redis) -> None:
    now = [1_800_000_000.0]
    store = SessionStore(redis_client, RedisKeys(), idle_seconds=600, max_seconds=3600, clock=lambda: now[0])
    fingerprint = password_fingerprint("hash-1")
    session = await store.create("dana", fingerprint)
    key = RedisKeys().session(token_digest(session.token))
    assert 590 < await redis_client.ttl(key) <= 600
    for _ in range(6):  # used every 9 minutes: the idle timeout never strikes
        now[0] += 540
        assert await store.load(session.token) is not None
    now[0] += 300  # 3540 s after the login: the key lives only until the absolute end
    assert await store.load(session.token) is not None
    assert await redis_client.ttl(key) <= 60
    now[0] += 61
    assert await store.load(session.token) is None
    assert not await redis_client.exists(key)


async def test_a_session_of_an_agent_whose_password_changed_is_ended_on_use(redis_client: Redis) -> None:
    store = SessionStore(redis_client, RedisKeys())
    session = await store.create("omer", password_fingerprint("old-hash"))
    current = {"omer": password_fingerprint("old-hash")}
    assert await store.load(session.token, current.get) is not None
    current["omer"] = password_fingerprint("new-hash")
    assert await store.load(session.token, current.get) is None
    current["omer"] = password_fingerprint("old-hash")  # ended for good, not merely refused
    assert await store.load(session.token, current.get) is None


async def test_a_restart_with_a_new_password_logs_the_agent_out(
    redis_server: RedisServer, redis_client: Redis, tmp_path: Path
) -> None:
    async with running_console(redis_server, tmp_path) as console, httpx.AsyncClient(
            base_url=console.base_url, timeout=30) as browser:
        assert (await _logged_in(browser, "omer")).status_code == 303
        assert (await browser.get("/console")).status_code == 200
        cookie = browser.cookies.get("kesher_session")
        agents_file = console.agents_file
    upsert_agent(agents_file, "omer", hash_password("a-new-password"))
    async with running_console(redis_server, tmp_path / "again", agents_file=agents_file) as console:
        async with httpx.AsyncClient(base_url=console.base_url, timeout=30) as browser:
            browser.cookies.set("kesher_session", str(cookie), domain="127.0.0.1", path="/console")
            page = await browser.get("/console")
            assert page.status_code == 302 and page.headers["location"] == "/console/login"
    assert await redis_client.scard(RedisKeys().agent_sessions("omer")) == 0


async def test_add_agent_ends_the_agents_sessions_at_once(
    redis_server: RedisServer, redis_client: Redis, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    async with running_console(redis_server, tmp_path) as console:
        async with httpx.AsyncClient(base_url=console.base_url, timeout=30) as omer, httpx.AsyncClient(
                base_url=console.base_url, timeout=30) as sarah:
            assert (await _logged_in(omer, "omer")).status_code == 303
            assert (await _logged_in(sarah, "sarah")).status_code == 303
            monkeypatch.setenv("KESHER_AGENTS_FILE", str(console.agents_file))
            monkeypatch.setenv("REDIS_PORT", str(redis_server.port))
            # the command runs outside any event loop, as from a shell
            code = await asyncio.to_thread(add_agent_cli, ["omer", "--password-stdin"],
                                           io.StringIO("a-new-password\n"))
            assert code == 0
            assert "ended 1 console session(s) of omer" in capsys.readouterr().out
            # the service still runs with the old hash in memory, yet omer's session is gone
            page = await omer.get("/console")
            assert page.status_code == 302 and page.headers["location"] == "/console/login"
            assert (await sarah.get("/console")).status_code == 200  # nobody else's


async def test_cookies_on_loopback_http_are_not_secure_and_no_hsts(
    redis_server: RedisServer, redis_client: Redis, tmp_path: Path
) -> None:
    async with running_console(redis_server, tmp_path) as console, httpx.AsyncClient(
            base_url=console.base_url, timeout=30) as browser:
        answer = await _logged_in(browser, "dana", {"Host": "shop.example.com"})  # the Host header decides nothing
    cookie = next(v for v in answer.headers.get_list("set-cookie") if v.startswith("kesher_session="))
    assert "secure" not in cookie.lower()
    assert "strict-transport-security" not in answer.headers


async def test_cookies_are_secure_with_a_public_url_even_for_a_loopback_host(
    redis_server: RedisServer, redis_client: Redis, tmp_path: Path
) -> None:
    # A public URL means production: every secret of its own, and no agent with the demo password.
    agents = tmp_path / "agents.yml"
    agents.write_text(yaml.safe_dump({"teams": {}, "agents": {"dana": {
        "name": "Dana", "role": "supervisor", "languages": ["en"], "password_hash": hash_password(PASSWORD + "!")}}}),
        encoding="utf-8")
    secrets: dict[str, Any] = {name: f"{name}-of-this-shop-0123456789abcdef" for name in (
        "rasa_api_token", "actions_token", "web_secret", "twilio_auth_token", "telegram_secret_token", "rest_token",
        "events_secret", "notices_secret")}
    async with running_console(
        redis_server, tmp_path, agents_file=agents, public_url="https://shop.example.com", **secrets,
        mail_from="Shop <support@shop.example.com>", twilio_account_sid="AC" + "1" * 32,
        twilio_whatsapp_from="whatsapp:+972500000000", telegram_token="42:shop",
    ) as console:
        async with httpx.AsyncClient(base_url=console.base_url, timeout=30) as browser:
            answer = await _logged_in(browser, "dana", {"Host": "127.0.0.1"}, password=PASSWORD + "!")
    assert answer.status_code == 303
    for name in ("kesher_session=", "kesher_login_csrf="):
        header = next(v for v in answer.headers.get_list("set-cookie") if v.startswith(name))
        assert "; secure" in header.lower(), header


async def test_through_the_front_door_over_https_cookies_are_secure_and_hsts_is_sent(
    redis_server: RedisServer, redis_client: Redis, tmp_path: Path
) -> None:
    https = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9", "Host": "127.0.0.1"}
    async with running_console(redis_server, tmp_path) as console, httpx.AsyncClient(
            base_url=console.base_url, timeout=30) as browser:
        answer = await _logged_in(browser, "dana", https)
        page = await browser.get("/console/login", headers=https)
    cookie = next(v for v in answer.headers.get_list("set-cookie") if v.startswith("kesher_session="))
    assert "; secure" in cookie.lower()
    assert answer.headers["strict-transport-security"] == "max-age=31536000"
    assert page.headers["strict-transport-security"] == "max-age=31536000"
