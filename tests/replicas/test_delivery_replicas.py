"""Two replicas' delivery workers on one Redis: each conversation's messages go out once, in order.

Each replica is a real :class:`connectors.runtime.ChannelRuntime` (its own Redis client and delivery
worker, a consumer of the one ``delivery`` group), sending through a channel that records what
reached the customer. Replica A sends slowly (a provider that takes a while to answer), so on a
worker that sends whatever it reads, a conversation's second message, read by replica B, overtakes
its first.
"""

from __future__ import annotations

import asyncio
import uuid
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List, Tuple

import pytest
from redis.asyncio import Redis

from connectors.delivery import GROUP
from connectors.runtime import ChannelRuntime
from core.settings import Settings
from handoff.models import OutboundMessage
from handoff.state import HandoffStore
from tests.helpers.channels import FAST_DELIVERY
from tests.helpers.redis_server import RedisServer
from tests.helpers.waiting import until
from wiring.container import Container

pytestmark = pytest.mark.asyncio

CHANNEL = "recorded"


class Customers:
    """What reached the customers, in the order it reached them (shared by both replicas' channels)."""

    def __init__(self) -> None:
        self.received: List[Tuple[str, str]] = []  # (conversation, text)

    def of(self, cid: str) -> List[str]:
        return [text for c, text in self.received if c == cid]


class RecordingChannel:
    """A channel whose provider takes ``delay`` seconds to accept each message."""

    def __init__(self, customers: Customers, delay: float) -> None:
        self.customers = customers
        self.delay = delay

    @classmethod
    def name(cls) -> str:
        return CHANNEL

    async def deliver(self, message: OutboundMessage) -> None:
        await asyncio.sleep(self.delay)  # the provider's round trip
        self.customers.received.append((message.cid, message.text))

    async def on_signal(self, signal: Dict[str, Any]) -> None:
        pass

    async def close(self) -> None:
        pass


@asynccontextmanager
async def replica(settings: Settings, customers: Customers, delay: float) -> AsyncIterator[ChannelRuntime]:
    """One replica's channel runtime with its delivery worker running."""
    rt = ChannelRuntime(Container(settings), delivery=FAST_DELIVERY)
    rt.register(RecordingChannel(customers, delay))
    await rt.start()
    try:
        yield rt
    finally:
        await rt.stop()


@pytest.fixture()
def settings(redis_server: RedisServer, tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path).with_ports(redis=redis_server.port, rasa=1, actions=1)


def message(cid: str, text: str) -> OutboundMessage:
    return OutboundMessage(message_id=uuid.uuid4().hex, cid=cid, channel=CHANNEL, text=text, kind="bot")


async def test_each_conversation_hears_its_messages_once_and_in_order_whichever_replica_sends_them(
        settings: Settings, redis_client: Redis) -> None:
    customers = Customers()
    conversations = [f"c{i}" for i in range(12)]
    per_conversation = 6
    async with AsyncExitStack() as stack:
        slow = await stack.enter_async_context(replica(settings, customers, delay=0.03))
        fast = await stack.enter_async_context(replica(settings, customers, delay=0.0))
        for n in range(per_conversation):  # replies queued by both replicas, as a bot's turns are
            for i, cid in enumerate(conversations):
                await (slow if (i + n) % 2 else fast).queue_outbound(message(cid, f"{cid}-{n}"))
        await until(lambda: len(customers.received) >= len(conversations) * per_conversation,
                    what="every message to reach its customer", timeout=30)
        await until(lambda: _nothing_pending(redis_client, slow), what="every entry acknowledged")
    for cid in conversations:
        assert customers.of(cid) == [f"{cid}-{n}" for n in range(per_conversation)]
    assert len(customers.received) == len(conversations) * per_conversation  # none twice
    assert not await redis_client.keys(f"{slow.keys.outbound_order('*')}")  # nothing left waiting


async def test_a_conversation_goes_on_in_order_after_the_replica_that_read_its_message_died(
        settings: Settings, redis_client: Redis) -> None:
    customers = Customers()
    store = HandoffStore(redis_client)
    await store.queue_outbound(message("c1", "first"))
    await store.queue_outbound(message("c1", "second"))
    # A replica read the first message and was killed before sending it: it stays pending under that consumer.
    stream = store.keys.outbound()
    await redis_client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    taken = await redis_client.xreadgroup(GROUP, "killed-replica", {stream: ">"}, count=1)
    assert taken[0][1][0][1]["text"] == "first"
    async with replica(settings, customers, delay=0.0) as survivor:
        await survivor.queue_outbound(message("c1", "third"))
        await until(lambda: len(customers.of("c1")) >= 3, what="the dead replica's message to be claimed and sent",
                    timeout=15)
        await until(lambda: _nothing_pending(redis_client, survivor), what="every entry acknowledged")
    assert customers.of("c1") == ["first", "second", "third"]


async def _nothing_pending(redis: Redis, rt: ChannelRuntime) -> bool:
    pending = await redis.xpending(rt.keys.outbound(), GROUP)
    return int(pending["pending"]) == 0
