"""Fixtures for the handoff service; redis_server and redis_client come from tests/conftest.py."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from core.redis_keys import RedisKeys
from handoff.state import HandoffStore


@pytest.fixture()
def store(redis_client: Redis) -> HandoffStore:
    return HandoffStore(redis_client, RedisKeys("test:ho:"))
