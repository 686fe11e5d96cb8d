"""Two ``rasa run`` replicas' web channels on one Redis: the widget hears replies another replica delivered.

The widget's websocket is held by replica A, which also runs the bot's turns; A's delivery worker
is stopped (as if it had died), so every reply is sent by replica B's worker. B publishes each on
Redis pub/sub, and A pushes it to the socket it holds: in order, once each.
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import pytest
from redis.asyncio import Redis

from connectors.web import WebChannel
from core.settings import Settings
from core.tasks import cancel_and_wait
from tests.helpers.channels import WebCustomer, serving_channel
from tests.helpers.redis_server import RedisServer

pytestmark = pytest.mark.asyncio

SECRET = "test-web-secret"


async def test_replies_delivered_by_another_replica_reach_the_widget_in_order(
        redis_server: RedisServer, redis_client: Redis, tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path).with_ports(redis=redis_server.port, rasa=1, actions=1)
    async with AsyncExitStack() as stack:
        holder = await stack.enter_async_context(serving_channel(lambda rt: WebChannel(SECRET, rt=rt), settings))
        await stack.enter_async_context(serving_channel(lambda rt: WebChannel(SECRET, rt=rt), settings))
        await cancel_and_wait(holder.rt._tasks[0])  # replica A's delivery worker: only B's sends now
        customer = WebCustomer(holder.base)
        stack.push_async_callback(customer.close)
        await customer.open()
        texts = [f"message {n}" for n in range(6)]
        for text in texts:
            await customer.say(text)
        replies = await customer.replies(len(texts))
        assert [r.text for r in replies] == [f"bot: {text}" for text in texts]
        assert holder.bot.texts == texts
