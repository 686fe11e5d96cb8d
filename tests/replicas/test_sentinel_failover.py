"""Redis Sentinel: the primary is killed mid-conversation and Kesher carries on with the promoted replica.

A real primary, its replica and three sentinels run on loopback (``tests/helpers/sentinel.py``).
Kesher's real clients are built from ``REDIS_SENTINELS`` alone (``REDIS_PORT`` points nowhere): the
composition root's client behind the handoff store and a channel runtime with its delivery worker,
Rasa's tracker store and lock store. A conversation is part-way through (the bot's turns saved, a
handoff queued, the customer's message on its events, a reply delivered) when the primary gets
``kill -9``. Once the sentinels have promoted the replica, the same client objects write to it, and
everything acknowledged (and replicated: ``WAIT``, see docs/operations.md) before the kill is there.
"""

from __future__ import annotations

import asyncio
import uuid
from pathlib import Path
from typing import Any, Awaitable, Dict, Iterator, List, Optional, TypeVar

import pytest
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, SessionStarted, UserUttered
from redis.exceptions import RedisError

from bot.lock_store import RedisTicketLockStore
from bot.tracker_store import WindowedRedisTrackerStore
from connectors.runtime import ChannelRuntime
from core.processes import free_port
from core.settings import Settings
from handoff.models import ConversationState, Event, EventKind, HandoffRequest, OutboundMessage
from handoff.redis_client import RedisAddress, sync_redis
from tests.helpers.channels import FAST_DELIVERY
from tests.helpers.sentinel import SentinelCluster, start_sentinel_cluster
from tests.helpers.waiting import until
from wiring.container import Container

pytestmark = pytest.mark.asyncio

CID = "web:sentinel-customer"
PREFIX = "sentinel-test"
T = TypeVar("T")


class Recorder:
    """A channel that records what reached the customer."""

    def __init__(self) -> None:
        self.received: List[str] = []

    @classmethod
    def name(cls) -> str:
        return "recorded"

    async def deliver(self, message: OutboundMessage) -> None:
        self.received.append(message.text)

    async def on_signal(self, signal: Dict[str, Any]) -> None:
        pass

    async def close(self) -> None:
        pass


@pytest.fixture()
def cluster(tmp_path: Path) -> Iterator[SentinelCluster]:
    started = start_sentinel_cluster(tmp_path / "redis")
    yield started
    started.stop()


async def once_connected(call: Awaitable[T]) -> Optional[T]:
    """The call's result, or None when it failed on a connection to the killed primary."""
    try:
        return await call
    except RedisError:
        return None


def reply(text: str) -> OutboundMessage:
    return OutboundMessage(message_id=uuid.uuid4().hex, cid=CID, channel=Recorder.name(), text=text, kind="bot")


async def test_the_conversation_goes_on_after_the_primary_is_killed(cluster: SentinelCluster, tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, redis_sentinels=cluster.sentinels).with_ports(
        redis=free_port(), rasa=1, actions=1)  # nothing listens on REDIS_PORT: only the sentinels lead to Redis
    runtime = ChannelRuntime(Container(settings), delivery=FAST_DELIVERY)
    recorder = Recorder()
    runtime.register(recorder)
    store = runtime.store
    trackers = WindowedRedisTrackerStore(Domain.empty(), sentinels=cluster.sentinels, key_prefix=PREFIX)
    locks = RedisTicketLockStore(sentinels=cluster.sentinels, key_prefix=PREFIX)
    await runtime.start()
    try:
        # -- mid-conversation -------------------------------------------------------------------
        tracker = trackers.init_tracker(CID)
        for event in (ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen"),
                      UserUttered("where is my order?"), BotUttered("Which order?"), ActionExecuted("action_listen")):
            tracker.update(event)
        await trackers.save(tracker)
        assert (await store.request(HandoffRequest(cid=CID, channel=Recorder.name(), language="en",
                                                   reason="explicit_request", reference="K-SENT01"))).ok
        before = await store.add_event(CID, Event(kind=EventKind.CUSTOMER, text="still there?", author="customer"))
        await runtime.queue_outbound(reply("an agent will be with you"))
        await until(lambda: recorder.received == ["an agent will be with you"], what="the reply delivered")
        # Replication is asynchronous: WAIT returns once the replica has every write made so far.
        assert int(await store.redis.execute_command("WAIT", 1, 5000)) == 1

        cluster.kill_primary()

        # -- the same clients carry on once the sentinels promoted the replica ------------------------
        async def written() -> bool:
            try:
                await store.add_event(CID, Event(kind=EventKind.CUSTOMER, text="hello?", author="customer"))
            except RedisError:
                return False
            return True

        await until(written, what="a write to succeed after the failover", timeout=45, every=0.2)
        assert cluster.primary_now() == cluster.replica_port

        conversation = await store.get(CID)
        assert conversation is not None and conversation.state is ConversationState.QUEUED
        events = await store.events(CID)
        assert [e.text for e in events if e.kind == EventKind.CUSTOMER] == ["still there?", "hello?"]
        assert before in [e.stream_id for e in events]
        # Each client's connections to the dead primary fail once (as on a Redis restart: Rasa answers that
        # message with an error and the provider retries it); the next command reconnects to the new one.
        restored = await until(lambda: once_connected(trackers.retrieve(CID)), what="the tracker store to reconnect")
        assert [e.text for e in restored.events if isinstance(e, UserUttered)] == ["where is my order?"]
        async with locks.lock(CID):
            pass  # the lock store takes its ticket on the new primary

        await runtime.queue_outbound(reply("dana joined the chat"))
        await until(lambda: recorder.received == ["an agent will be with you", "dana joined the chat"],
                    what="the delivery worker to go on with the new primary", timeout=20)
        # The supervisor's readiness check (a synchronous client) finds the new primary too.
        client = sync_redis(RedisAddress.from_settings(settings), socket_timeout=1)
        try:
            assert client.ping() and client.info("replication")["role"] == "master"
        finally:
            client.close()
    finally:
        await runtime.stop()
        await trackers.close()
        await locks.close()
        await asyncio.sleep(0)
