"""Rate limits counted atomically in Redis: what they count, when they refuse, what the refusal says."""

from __future__ import annotations

import asyncio

import pytest
from redis.asyncio import Redis

from core.errors import TooManyRequests
from core.redis_keys import RedisKeys
from core.settings import Settings
from edge.errors import error_frame, error_response
from edge.limits import Check, Limit, RateLimiter


def test_a_limit_is_count_per_seconds_and_a_bad_one_is_a_settings_error() -> None:
    assert Limit.parse("30/60") == Limit(30, 60) and not Limit(30, 60).off
    assert Limit.parse("0/60").off
    settings = Settings(limit_messages_per_sender=" 5 / 10 ")
    assert Limit.parse(settings.limit_messages_per_sender) == Limit(5, 10)
    with pytest.raises(ValueError, match="count/seconds"):
        Settings(limit_messages_per_sender="lots")
    with pytest.raises(ValueError, match="count/seconds"):
        Settings(limit_sessions_per_source="5/0")


async def test_concurrent_hits_count_one_each_and_every_counter_expires(redis_client: Redis) -> None:
    keys = RedisKeys()
    limiter = RateLimiter(redis_client, keys)
    checks = [Check("message:test", "+972501234567", Limit(5, 60), "messages from this sender"),
              Check("message:source", "203.0.113.9", Limit(100, 30), "messages from this address")]

    async def one() -> bool:
        try:
            await limiter.hit(checks)
        except TooManyRequests:
            return False
        return True

    results = await asyncio.gather(*[one() for _ in range(20)])
    assert results.count(True) == 5
    sender_key = keys.rate("message:test", "+972501234567")
    assert "+972501234567" not in sender_key  # no phone numbers in key names
    assert await redis_client.get(sender_key) == "20"
    assert 0 < await redis_client.ttl(sender_key) <= 60
    assert 0 < await redis_client.ttl(keys.rate("message:source", "203.0.113.9")) <= 30


async def test_the_refusal_says_what_and_when_and_an_off_limit_counts_nothing(redis_client: Redis) -> None:
    limiter = RateLimiter(redis_client, RedisKeys())
    check = Check("web-session:source", "198.51.100.7", Limit(1, 600), "new chat sessions from this address")
    await limiter.hit([check])
    with pytest.raises(TooManyRequests) as refused:
        await limiter.hit([check])
    assert "too many new chat sessions from this address" in str(refused.value)
    assert 590 <= refused.value.retry_after <= 600
    response = error_response(refused.value)
    assert response.status == 429 and response.headers["retry-after"] == str(refused.value.retry_after)
    assert error_frame(refused.value)["status"] == 429
    for _ in range(10):
        await limiter.hit([Check("off", "x", Limit(0, 60), "nothing")])
    assert await redis_client.keys("*rate:off*") == []
