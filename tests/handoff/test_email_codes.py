"""One-time e-mail codes on a real Redis: hashed, short-lived, five tries, and a limited number of mails."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from core.redis_keys import RedisKeys
from handoff.email_codes import CodeCheck, CodeRules, EmailCodes, Issue, email_digest, looks_like_code

KEYS = RedisKeys("test:ho:")


def _codes(redis: Redis, **rules: int) -> EmailCodes:
    return EmailCodes(redis, KEYS, CodeRules(**rules))


def _wrong(code: str) -> str:
    return f"{(int(code) + 1) % 1_000_000:06d}"


async def test_the_right_code_proves_the_address_it_was_sent_to_once(redis_client: Redis) -> None:
    codes = _codes(redis_client)
    issued = await codes.issue("web:s-1", "Eve@Example.org")
    assert issued.outcome is Issue.SENT and len(issued.code) == 6 and issued.code.isdigit()
    assert await codes.pending("web:s-1")

    result = await codes.check("web:s-1", issued.code)
    assert result.outcome is CodeCheck.VERIFIED and result.address_digest == email_digest("eve@example.org")
    assert (await codes.check("web:s-1", issued.code)).outcome is CodeCheck.NONE  # used up
    assert not await codes.pending("web:s-1")


async def test_a_code_belongs_to_its_conversation(redis_client: Redis) -> None:
    codes = _codes(redis_client)
    issued = await codes.issue("web:s-1", "eve@example.org")
    assert (await codes.check("web:s-2", issued.code)).outcome is CodeCheck.NONE
    assert (await codes.check("web:s-1", issued.code)).outcome is CodeCheck.VERIFIED


async def test_five_wrong_codes_void_the_code_even_for_the_right_one(redis_client: Redis) -> None:
    codes = _codes(redis_client, attempts=5)
    issued = await codes.issue("web:s-1", "eve@example.org")
    outcomes = [await codes.check("web:s-1", _wrong(issued.code)) for _ in range(5)]
    assert [r.outcome for r in outcomes] == [CodeCheck.WRONG] * 4 + [CodeCheck.LOCKED]
    assert [r.remaining for r in outcomes[:4]] == [4, 3, 2, 1]
    assert (await codes.check("web:s-1", issued.code)).outcome is CodeCheck.NONE


async def test_concurrent_guesses_count_one_each(redis_client: Redis) -> None:
    codes = _codes(redis_client, attempts=5)
    issued = await codes.issue("web:s-1", "eve@example.org")
    guesses = [f"{n:06d}" for n in range(20) if f"{n:06d}" != issued.code][:20]
    results = await asyncio.gather(*(codes.check("web:s-1", g) for g in guesses))
    assert sum(r.outcome is CodeCheck.WRONG for r in results) == 4  # never more than the limit compared
    assert (await codes.check("web:s-1", issued.code)).outcome is CodeCheck.NONE


async def test_neither_the_code_nor_the_address_is_stored_in_clear(redis_client: Redis) -> None:
    issued = await _codes(redis_client).issue("web:s-1", "eve@example.org")
    for key in await redis_client.keys("*"):
        assert "eve" not in key
        if await redis_client.type(key) == "hash":
            values = (await redis_client.hgetall(key)).values()
            assert issued.code not in values and not any("eve" in v for v in values)


async def test_a_code_expires_after_its_minutes(redis_client: Redis) -> None:
    await _codes(redis_client, minutes=10).issue("web:s-1", "eve@example.org")
    ttl = await redis_client.ttl(KEYS.email_code("web:s-1"))
    assert 0 < ttl <= 600
    await redis_client.delete(KEYS.email_code("web:s-1"))  # what Redis does when the TTL runs out
    assert (await _codes(redis_client).check("web:s-1", "123456")).outcome is CodeCheck.NONE


async def test_code_mails_are_limited_per_address_whoever_asks(redis_client: Redis) -> None:
    codes = _codes(redis_client, per_address=3, per_conversation=10)
    outcomes = [(await codes.issue(f"web:attacker-{n}", "victim@example.org")).outcome for n in range(4)]
    assert outcomes == [Issue.SENT] * 3 + [Issue.LIMITED]
    assert (await codes.issue("web:attacker-9", "someone.else@example.org")).outcome is Issue.SENT
    assert 0 < await redis_client.ttl(KEYS.email_codes_sent("address", email_digest("victim@example.org"))) <= 3600


async def test_code_mails_are_limited_per_conversation_whatever_the_address(redis_client: Redis) -> None:
    codes = _codes(redis_client, per_address=10, per_conversation=3)
    outcomes = [(await codes.issue("web:attacker", f"victim{n}@example.org")).outcome for n in range(4)]
    assert outcomes == [Issue.SENT] * 3 + [Issue.LIMITED]
    assert await codes.pending("web:attacker")  # the last code sent still counts


@pytest.mark.parametrize(("text", "code"), [
    ("123456", "123456"), (" 123 456 ", "123456"), ("12-34-56", "123456"), ("654321.", "654321"),
    ("1234567", None), ("12345", None), ("my order 123456", None), ("", None),
])
def test_a_message_is_a_code_only_when_it_is_six_digits(text: str, code: str | None) -> None:
    assert looks_like_code(text) == code
