"""The one Redis client factory: a client outlives a Redis restart without failing a command."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
import redis

from handoff.redis_client import RedisAddress, async_redis, sync_redis
from tests.helpers.redis_server import start_redis


async def test_after_redis_restarts_the_next_command_on_a_pooled_connection_succeeds(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    address = RedisAddress(port=server.port)
    aio, sync = async_redis(address), sync_redis(address, decode_responses=True)
    try:
        await aio.set("before", "1")
        sync.set("before-sync", "1")
        server.process.send_signal(signal.SIGKILL)
        server.process.wait()
        server = start_redis(tmp_path, port=server.port)  # the same address: the pooled connections are dead

        # The first command of each client after the restart: on its old, broken connection, then a new one.
        await aio.set("after", "2")
        assert await aio.get("after") == "2"
        assert sync.set("after-sync", "2") and sync.get("after-sync") == "2"
    finally:
        await aio.close()
        sync.close()
        server.stop()


def test_a_client_still_fails_when_redis_stays_down(tmp_path: Path) -> None:
    server = start_redis(tmp_path)
    address = RedisAddress(port=server.port)
    client = sync_redis(address)
    server.stop()
    try:
        with pytest.raises(redis.ConnectionError):
            client.ping()
    finally:
        client.close()
