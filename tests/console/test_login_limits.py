"""Login throttling as an attacker meets it: counted before the password is checked, per source and per
account, with backoff; a stranger cannot lock a real agent out; password checks are capped and off the loop.

Each test runs the handoff service in its own loop (real HTTP) with a password check that counts
what it evaluates. Requests come from loopback, as through the front door, and name their source in
``X-Forwarded-For``.
"""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import List

import httpx
import pytest
from redis.asyncio import Redis

from console.auth import client_address
from console.context import state
from console.sessions import LoginLimiter, LoginPolicy
from core.redis_keys import RedisKeys
from handoff.agents import hash_password, password_matches
from handoff.models import Agent
from tests.helpers.console_app import CountingVerify, login_form, post_login, running_console
from tests.helpers.redis_server import RedisServer
from tests.helpers.waiting import until

PASSWORD = "kesher-demo"
ATTACKER = "203.0.113.5"
AGENT_DESK = "198.51.100.7"


async def _burst(base_url: str, count: int, agent_id: str, password: str, source: str) -> List[httpx.Response]:
    """``count`` logins sent at the same moment, each from its own browser (own login form and cookie)."""
    go = asyncio.Event()
    at_the_form = [0]

    async def one() -> httpx.Response:
        async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
            token = await login_form(client, source)
            at_the_form[0] += 1
            await go.wait()
            return await post_login(client, token, agent_id, password, source)

    tasks = [asyncio.create_task(one()) for _ in range(count)]
    await until(lambda: at_the_form[0] == count, what="every browser at the login form", timeout=30)
    go.set()
    return list(await asyncio.gather(*tasks))


async def test_twenty_concurrent_wrong_passwords_evaluate_at_most_the_limit(
    redis_server: RedisServer, redis_client: Redis, tmp_path: Path
) -> None:
    verify = CountingVerify()
    async with running_console(redis_server, tmp_path, verify=verify) as console:
        answers = await _burst(console.base_url, 20, "dana", "guess-123", ATTACKER)
    statuses = sorted(a.status_code for a in answers)
    assert verify.calls == LoginPolicy().pair_limit == 5  # counted before the password was checked
    assert statuses == [401] * 5 + [429] * 15
    refused = [a for a in answers if a.status_code == 429]
    assert all(int(a.headers["retry-after"]) > 0 for a in refused)
    assert all("Too many failed attempts for dana. Try again in 1 minute." in a.text for a in refused)
    assert not any("kesher_session" in a.cookies for a in answers)


async def test_wrong_passwords_from_one_source_do_not_lock_the_agent_out_elsewhere(
    redis_server: RedisServer, redis_client: Redis, tmp_path: Path
) -> None:
    verify = CountingVerify()
    async with running_console(redis_server, tmp_path, verify=verify) as console:
        answers = await _burst(console.base_url, 20, "dana", "guess-123", ATTACKER)
        assert {a.status_code for a in answers} == {401, 429}
        async with httpx.AsyncClient(base_url=console.base_url, timeout=30) as attacker:
            token = await login_form(attacker, ATTACKER)
            even_right = await post_login(attacker, token, "dana", PASSWORD, ATTACKER)
        assert even_right.status_code == 429  # the guessing source waits, whatever it types
        async with httpx.AsyncClient(base_url=console.base_url, timeout=30) as dana:
            token = await login_form(dana, AGENT_DESK)
            real = await post_login(dana, token, "dana", PASSWORD, AGENT_DESK)
            assert real.status_code == 303, real.text
            assert (await dana.get("/console")).status_code == 200
    assert verify.calls == 6  # five guesses and Dana's own login


async def test_one_source_guessing_many_ids_waits_too(
    redis_server: RedisServer, redis_client: Redis, tmp_path: Path
) -> None:
    verify = CountingVerify()
    policy = LoginPolicy(pair_limit=5, source_limit=4)
    async with running_console(redis_server, tmp_path, verify=verify, policy=policy) as console:
        async with httpx.AsyncClient(base_url=console.base_url, timeout=30) as client:
            for agent_id in ("omer", "sarah", "maya", "nobody"):
                token = await login_form(client, ATTACKER)
                last = await post_login(client, token, agent_id, "guess-123", ATTACKER)
                assert last.status_code == 401
            token = await login_form(client, ATTACKER)
            refused = await post_login(client, token, "dana", PASSWORD, ATTACKER)
    assert refused.status_code == 429
    assert "Too many failed attempts from your address." in refused.text
    assert verify.calls == 4
    assert "Too many failed attempts from your address." in last.text  # the fourth guess said so already


async def test_guesses_from_many_sources_only_slow_the_account_down(
    redis_server: RedisServer, redis_client: Redis, tmp_path: Path
) -> None:
    verify = CountingVerify()
    policy = LoginPolicy(account_limit=3, slowdown_seconds=0.01, max_slowdown_seconds=0.05)
    async with running_console(redis_server, tmp_path, verify=verify, policy=policy) as console:
        async with httpx.AsyncClient(base_url=console.base_url, timeout=30) as client:
            for n in range(8):
                source = f"192.0.2.{n + 1}"
                token = await login_form(client, source)
                assert (await post_login(client, token, "omer", "guess-123", source)).status_code == 401
            token = await login_form(client, AGENT_DESK)
            real = await post_login(client, token, "omer", PASSWORD, AGENT_DESK)
    assert real.status_code == 303, real.text  # over the account's limit, yet never locked
    assert verify.calls == 9
    account = await redis_client.hgetall(RedisKeys().login_account("omer"))
    assert int(account["n"]) == 8 and "until" not in account  # slowed down, never blocked


async def test_backoff_doubles_and_a_success_forgives(redis_client: Redis) -> None:
    now = [1_800_000_000.0]
    limiter = LoginLimiter(redis_client, RedisKeys(), LoginPolicy(pair_limit=2, backoff_seconds=60),
                           clock=lambda: now[0])
    agent = Agent("omer", "Omer Katz", password_hash=hash_password("right-password"))
    first = await limiter.attempt(ATTACKER, "omer", agent, "wrong")
    assert (first.ok, first.attempts_left, first.locked_for) == (False, 1, 0)
    second = await limiter.attempt(ATTACKER, "omer", agent, "wrong")
    assert (second.ok, second.locked_for) == (False, 60)
    assert (await limiter.attempt(ATTACKER, "omer", agent, "right-password")).retry_after == 60
    now[0] += 61
    third = await limiter.attempt(ATTACKER, "omer", agent, "wrong")
    assert third.locked_for == 120  # the wait doubles
    now[0] += 30
    assert (await limiter.attempt(ATTACKER, "omer", agent, "right-password")).retry_after == 90
    now[0] += 91
    assert (await limiter.attempt(ATTACKER, "omer", agent, "right-password")).ok
    again = await limiter.attempt(ATTACKER, "omer", agent, "wrong")
    assert (again.ok, again.attempts_left, again.locked_for) == (False, 1, 0)  # the count starts over


async def test_an_attempt_whose_clock_was_read_before_the_lock_waits_no_longer_than_the_lock(
    redis_client: Redis,
) -> None:
    # Concurrent logins read the clock, then queue for Redis: the one that locks the pair may run first.
    now = [1_800_000_000.0]
    limiter = LoginLimiter(redis_client, RedisKeys(), LoginPolicy(pair_limit=1, backoff_seconds=60),
                           clock=lambda: now[0])
    locking = await limiter.attempt(ATTACKER, "dana", None, "wrong")
    assert locking.locked_for == 60
    now[0] -= 0.5  # read half a second before the locking attempt's
    late = await limiter.attempt(ATTACKER, "dana", None, "wrong")
    assert (late.ok, late.retry_after) == (False, 60)  # "try again in 1 minute", not 61 s (2 minutes)


async def test_password_checks_are_capped_and_never_block_the_loop(
    redis_server: RedisServer, redis_client: Redis, tmp_path: Path
) -> None:
    release = threading.Event()
    running = [0]
    most = [0]
    lock = threading.Lock()

    def slow_verify(password_hash: str, password: str) -> bool:
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            release.wait(30)
            return password_matches(password_hash, password)
        finally:
            with lock:
                running[0] -= 1

    policy = LoginPolicy(hashing=2)
    async with running_console(redis_server, tmp_path, policy=policy) as console:
        state(console.app).limiter.verify = slow_verify
        browsers = [httpx.AsyncClient(base_url=console.base_url, timeout=60) for _ in range(6)]
        try:
            tokens = [await login_form(b, f"192.0.2.{n}") for n, b in enumerate(browsers)]
            logins = [asyncio.create_task(post_login(b, tokens[n], "sarah", "guess-123", f"192.0.2.{n}"))
                      for n, b in enumerate(browsers)]
            await until(lambda: running[0] == 2, what="two password checks running")
            # the checks hold their threads; the server still answers
            assert (await browsers[0].get("/health")).status_code == 200
            assert running[0] == 2
            release.set()
            answers = await asyncio.gather(*logins)
        finally:
            release.set()
            for b in browsers:
                await b.aclose()
    assert [a.status_code for a in answers] == [401] * 6
    assert most[0] == 2


@pytest.mark.parametrize(
    ("peer", "forwarded", "expected"),
    [
        ("127.0.0.1", "203.0.113.5", "203.0.113.5"),  # behind the front door
        ("127.0.0.1", "10.9.9.9, 203.0.113.5", "203.0.113.5"),  # the proxy's own entry is the last one
        ("127.0.0.1", "not an address", "127.0.0.1"),
        ("198.51.100.7", "203.0.113.5", "198.51.100.7"),  # a stranger cannot pick its own source
        ("2001:db8:1:2:3:4:5:6", "", "2001:db8:1:2::/64"),  # IPv6 by its /64
    ],
)
def test_the_source_is_the_peer_or_what_the_front_door_forwarded(peer: str, forwarded: str, expected: str) -> None:
    request = SimpleNamespace(ip=peer, headers={"x-forwarded-for": forwarded} if forwarded else {})
    assert client_address(request) == expected  # type: ignore[arg-type]
