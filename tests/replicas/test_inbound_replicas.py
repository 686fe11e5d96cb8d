"""Two ``rasa run`` replicas' channels on one Redis: one customer's messages are handled in arrival order.

Both replicas serve Kesher's REST channel over real HTTP, each with its own runtime, in front of one
stand-in for Rasa that records what it was given. Replica A is busy when the first message reaches
it (its conversation look-up stalls, as under a CPU spike or a garbage collection); the second
message reaches replica B meanwhile. It must wait its turn, both when the bot has the conversation
and when a person does (the message then goes to the conversation's events, which the agent reads).
"""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis

from connectors.rest import KesherRestChannel
from core.settings import Settings
from handoff.identity import conversation_id
from handoff.models import EventKind, HandoffRequest
from tests.helpers.channels import ChannelApp, EchoBot, serving_channel
from tests.helpers.redis_server import RedisServer
from tests.helpers.waiting import until

pytestmark = pytest.mark.asyncio

TOKEN = "test-rest-token"
SENDER = "customer-1"
CID = conversation_id("kesher_rest", SENDER)
STALL_SECONDS = 0.5


async def post(app: ChannelApp, text: str) -> httpx.Response:
    async with httpx.AsyncClient(timeout=30) as http:
        return await http.post(app.base + "/webhook", content=json.dumps({"sender": SENDER, "message": text}),
                               headers={"authorization": f"Bearer {TOKEN}", "content-type": "application/json"})


def stall_first_lookup(app: ChannelApp) -> asyncio.Event:
    """Makes the replica's first conversation look-up take a while; the event is set when it starts."""
    started = asyncio.Event()
    resolve = app.rt.identity.resolve

    async def slow_resolve(*args: Any, **kwargs: Any) -> str:
        if not started.is_set():
            started.set()
            await asyncio.sleep(STALL_SECONDS)  # the replica is busy; the message has arrived
        return await resolve(*args, **kwargs)

    app.rt.identity.resolve = slow_resolve  # type: ignore[method-assign]
    return started


@pytest.mark.parametrize("with_person", [False, True], ids=["bot", "person"])
async def test_a_second_message_on_another_replica_waits_for_the_first(
        redis_server: RedisServer, redis_client: Redis, tmp_path: Path, with_person: bool) -> None:
    settings = Settings(var_dir=tmp_path).with_ports(redis=redis_server.port, rasa=1, actions=1)
    bot = EchoBot()
    async with AsyncExitStack() as stack:
        busy = await stack.enter_async_context(
            serving_channel(lambda rt: KesherRestChannel(TOKEN, rt=rt), settings, bot=bot))
        idle = await stack.enter_async_context(
            serving_channel(lambda rt: KesherRestChannel(TOKEN, rt=rt), settings, bot=bot))
        if with_person:
            await busy.rt.store.request(HandoffRequest(cid=CID, channel="kesher_rest", language="en",
                                                       reason="customer_asked", reference="K-1"))
        arrived = stall_first_lookup(busy)
        first = asyncio.create_task(post(busy, "first"))
        await until(arrived.is_set, what="the first message to reach replica A")
        second = await post(idle, "second")
        assert (await first).status_code == 200 and second.status_code == 200
    if with_person:
        events = await busy.rt.store.events(CID)
        assert [e.text for e in events if e.kind == EventKind.CUSTOMER] == ["first", "second"]
        assert bot.texts == []
    else:
        assert bot.texts == ["first", "second"]
