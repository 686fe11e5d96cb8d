"""Kesher's lock store on a real redis-server: one holder at a time across replicas, first come first served,
an abandoned ticket expires, nothing left behind."""

from __future__ import annotations

import asyncio
import functools
from typing import AsyncIterator, Callable, List

import pytest
import pytest_asyncio
import yaml
from redis.asyncio import Redis

from bot import lock_store as lock_store_module
from bot.lock_store import RedisTicketLockStore
from core.redis_keys import TrackerKeys
from core.settings import PROJECT_ROOT
from tests.helpers.redis_server import RedisServer
from tests.helpers.waiting import until

PREFIX = "t"
KEYS = TrackerKeys(PREFIX)


@pytest_asyncio.fixture()
async def stores(redis_client: Redis, redis_server: RedisServer) -> AsyncIterator[
        Callable[[], RedisTicketLockStore]]:
    made: List[RedisTicketLockStore] = []

    def make() -> RedisTicketLockStore:
        store = RedisTicketLockStore(host="127.0.0.1", port=redis_server.port, key_prefix=PREFIX)
        made.append(store)
        return store

    yield make
    for store in made:
        await store.close()


async def test_two_replicas_never_hold_a_conversation_at_once(stores, redis_client: Redis) -> None:
    replicas = [stores(), stores()]
    inside: List[int] = []
    most = 0
    served = 0

    async def message(n: int) -> None:
        nonlocal most, served
        async with replicas[n % 2].lock("web:c1"):
            inside.append(n)
            most = max(most, len(inside))
            await asyncio.sleep(0)  # let the other messages try meanwhile
            await redis_client.incr("work")
            inside.remove(n)
            served += 1

    await asyncio.gather(*(message(n) for n in range(40)))
    assert most == 1 and served == 40
    # Another conversation is never held up by this one.
    async with replicas[0].lock("web:c1"):
        await asyncio.wait_for(_hold(replicas[1], "web:c2"), 2)
    assert not await redis_client.exists(KEYS.lock_queue("web:c1"), KEYS.lock_tickets("web:c1"))


async def _hold(store: RedisTicketLockStore, cid: str) -> None:
    async with store.lock(cid):
        pass


async def test_messages_are_served_in_the_order_they_came(stores, redis_client: Redis) -> None:
    store = stores()
    order: List[str] = []
    release = asyncio.Event()

    async def message(name: str) -> None:
        async with store.lock("web:c3"):
            order.append(name)
            if name == "first":
                await release.wait()

    tasks = [asyncio.create_task(message("first"))]
    for waiting, name in enumerate(["second", "third", "fourth"], start=1):
        await until(functools.partial(_queued, redis_client, "web:c3", waiting), what=f"{waiting} in the queue")
        tasks.append(asyncio.create_task(message(name)))
    await until(lambda: _queued(redis_client, "web:c3", 4), what="four waiting")
    release.set()
    await asyncio.gather(*tasks)
    assert order == ["first", "second", "third", "fourth"]


async def _queued(redis: Redis, cid: str, n: int) -> bool:
    return int(await redis.zcard(KEYS.lock_queue(cid))) >= n


async def test_a_ticket_abandoned_by_a_crashed_replica_expires(stores, redis_client: Redis) -> None:
    store = stores()
    # A replica takes the lock for 0.3 s and dies without releasing it.
    _, now = await redis_client.eval(lock_store_module._ENTER, 2, KEYS.lock_queue("web:c4"),
                                     KEYS.lock_tickets("web:c4"), 300)
    assert int(now) == 1
    await asyncio.wait_for(_hold(store, "web:c4"), 5)
    assert not await redis_client.exists(KEYS.lock_queue("web:c4"))


@pytest.mark.parametrize("name", ["lock_store", "tracker_store"])
def test_the_stores_are_configured(name: str) -> None:
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    expected = {"lock_store": "bot.lock_store.RedisTicketLockStore",
                "tracker_store": "bot.tracker_store.WindowedRedisTrackerStore"}
    assert endpoints[name]["type"] == expected[name]
