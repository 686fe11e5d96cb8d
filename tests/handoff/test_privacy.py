"""Nothing about a customer is kept forever, and card and ID numbers are never stored in clear.

On a real redis-server: a whole handoff (verified customer, queue, agent chat, notes,
typing, e-mails through a real SMTP server, close, satisfaction answers, back to
the bot), then every key in Redis is looked at: each one a conversation left
behind expires within the retention period; the few shared structures are named
and hold no contact detail of the customer.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict

import pytest
from redis.asyncio import Redis

from core.processes import free_port
from core.redis_keys import RedisKeys
from core.settings import Settings
from handoff.desk import Desk
from handoff.identity import IDENTITY_TTL_SECONDS, conversation_id
from handoff.models import Conversation, ConversationState, Event, EventKind, HandoffRequest
from handoff.rasa_client import RasaClient
from handoff.router import InboundMessage
from handoff.state import HandoffStore
from tests.handoff.helpers import Clock, agent, conversation, make_desk, request
from tests.helpers.redis_server import RedisServer
from tests.helpers.retention import shared_contents, shared_keys, ttls
from tests.helpers.smtp import SmtpSink
from wiring.container import Container

DAY = 24 * 3600
PHONE = "+972501234567"
CID = conversation_id("whatsapp", PHONE)
EMAIL = "noa.cohen@example.com"
CARD_NBSP = "4580\u00a01234\u00a05678\u00a09015"  # a real (Luhn-valid) number, no-break spaces
ID_SPACED = "123 456 782"  # a valid Israeli ID written in threes


def _container(redis_server: RedisServer, smtp_sink: SmtpSink, tmp_path: Path, clock: Clock,
               retention_days: int) -> Container:
    settings = Settings(var_dir=tmp_path, retention_days=retention_days, smtp_port=smtp_sink.port).with_ports(
        redis=redis_server.port, rasa=free_port(), actions=free_port())
    container = Container(settings, clock=clock)
    container.keys = RedisKeys("privacy:")  # apart from any handoff service sharing this redis-server
    return container


async def test_after_a_whole_handoff_every_key_of_the_conversation_expires_within_the_retention(
    redis_server: RedisServer, redis_client: Redis, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    retention = 2 * DAY
    container = _container(redis_server, smtp_sink, tmp_path, Clock(), retention_days=2)
    desk, router, keys = container.desk, container.router, container.keys
    try:
        dana = agent(desk, "dana")
        await desk.customer_verified(CID, EMAIL, "whatsapp", "en")
        ticket = await desk.request(HandoffRequest(
            cid=CID, channel="whatsapp", language="en", reason="explicit_request", reference="K-PRIV01",
            priority=1, topic="general", email=EMAIL, phone=PHONE,
            asked=[f"I paid with {CARD_NBSP}", "where is my order?"],
        ))
        assert ticket.state is ConversationState.QUEUED
        await router.route(InboundMessage(cid=CID, channel="whatsapp", text=f"my ID is {ID_SPACED}"))
        await desk.set_presence(dana, "online")
        assert (await desk.take(CID, dana)).ok
        await desk.send(CID, dana, "Thanks Noa, looking at it now.")
        await desk.note(CID, dana, f"customer gave card {CARD_NBSP}")
        await desk.typing(CID, dana)
        worker = container.mail_worker()
        assert await worker.run_once() == 1  # the handoff summary
        await desk.close(CID, dana, "resolved", summary=f"Refunded to card {CARD_NBSP}.")
        assert await worker.run_once() == 1  # the closing summary
        await router.route(InboundMessage(cid=CID, channel="whatsapp", text="5"))
        await router.route(InboundMessage(cid=CID, channel="whatsapp", text="quick and kind, thanks"))
        conv = await conversation(container.store, CID)
        assert conv.state is ConversationState.BOT and conv.csat_rating == 5
        assert len(smtp_sink.messages) == 2

        found = await ttls(redis_client, keys.prefix)
        assert not [k for k in found if EMAIL in k], "a key name shows the customer's e-mail"
        shared = shared_keys(keys, ["dana"])
        kept = {k: ttl for k, ttl in found.items() if k not in shared}
        # what this conversation is known to leave behind is among them ...
        for expected in (keys.conversation(CID), keys.events(CID), keys.history(conv.customer_key), keys.closed(),
                         keys.feed()):
            assert expected in kept, f"{expected} is missing: {sorted(found)}"
        assert any(k.startswith(keys.prefix + "contact:") for k in kept)
        assert any(k.startswith(keys.prefix + "mail:sent:") for k in kept)
        # ... and every key that is not a shared structure expires, within the retention
        forever = {k: ttl for k, ttl in kept.items() if not 0 < ttl <= retention}
        assert forever == {}, f"kept beyond {retention} s (-1: forever): {forever}"
        # the shared structures hold nothing that names the customer (the delivery stream is trimmed by age,
        # the event log's buffer is emptied by the mover: its entries name the conversation, as its rows do)
        for key in shared & set(found):
            if key not in (keys.outbound(), keys.service_events()):
                held = await shared_contents(redis_client, key)
                assert PHONE not in held and EMAIL not in held, (key, held)
    finally:
        await container.close()


async def test_card_and_id_numbers_are_never_stored_in_clear(
    redis_server: RedisServer, redis_client: Redis, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    container = _container(redis_server, smtp_sink, tmp_path, Clock(), retention_days=30)
    desk, router, store = container.desk, container.router, container.store
    try:
        dana = agent(desk, "dana")
        await desk.request(HandoffRequest(
            cid=CID, channel="whatsapp", language="he", reason="explicit_request", reference="K-PRIV02",
            asked=[f"שילמתי בכרטיס {CARD_NBSP}"], found=[f"ת.ז. {ID_SPACED}"],
        ))
        await router.route(InboundMessage(cid=CID, channel="whatsapp", text=f"ת.ז. {ID_SPACED}, כרטיס {CARD_NBSP}"))
        await desk.set_presence(dana, "online")
        await desk.take(CID, dana)
        await desk.note(CID, dana, f"card {CARD_NBSP}")
        await desk.close(CID, dana, "resolved", summary=f"refund to {CARD_NBSP}", next_steps=f"check {ID_SPACED}")

        everything = []
        async for key in redis_client.scan_iter(match=f"{container.keys.prefix}*"):
            if key != container.keys.outbound():
                everything.append(await shared_contents(redis_client, key))
        dump = "\n".join(everything)
        # As numbers of their own: a random id's hex ("8d458050…") may hold the same four digits.
        clear = [part for part in ("4580", "123 456", "5678")
                 if re.search(rf"(?<![0-9A-Za-z]){part}(?![0-9A-Za-z])", dump)]
        assert clear == [], f"{clear} in clear in {dump}"
        assert "•••• •••• •••• 9015" in dump and "•••••••82" in dump
        texts = [e.text for e in await store.events(CID) if e.kind in (EventKind.CUSTOMER, EventKind.NOTE)]
        assert texts == ["ת.ז. •••••••82, כרטיס •••• •••• •••• 9015", "card •••• •••• •••• 9015"]
        conv = await conversation(store, CID)
        assert conv.asked == ["שילמתי בכרטיס •••• •••• •••• 9015"] and conv.found == ["ת.ז. •••••••82"]
        assert conv.summary == "refund to •••• •••• •••• 9015" and conv.next_steps == "check •••••••82"
    finally:
        await container.close()


async def test_the_agents_message_reaches_the_customer_as_written(store: HandoffStore) -> None:
    conv_request = request("c-out")
    await store.request(conv_request)
    conv = await conversation(store, "c-out")
    event = await store.tell_customer(conv, f"we refunded {CARD_NBSP}", kind=EventKind.AGENT)
    assert event.text == "we refunded •••• •••• •••• 9015"  # the stored copy
    sent = [f["text"] for _, f in await store.redis.xrange(store.keys.outbound())]
    assert sent == [f"we refunded {CARD_NBSP}"]  # the delivery queue: what the customer is told


async def test_the_closed_set_forgets_conversations_closed_before_the_retention(redis_client: Redis) -> None:
    clock = Clock()
    store = HandoffStore(redis_client, RedisKeys("test:ho:"), clock=clock, retention_seconds=DAY)
    for cid in ("old", "new"):
        await store.request(request(cid))
        await store.take(cid, "dana", "Dana Levi", 3, require_online=False)
        assert (await store.close(cid, "dana", "resolved")).ok
        clock.now += DAY + 60
    assert await redis_client.zrange(store.keys.closed(), 0, -1) == ["new"]
    assert 0 < await redis_client.ttl(store.keys.closed()) <= DAY


async def test_shared_streams_forget_entries_older_than_the_retention(redis_client: Redis) -> None:
    # a message to a customer trims the feed and the delivery stream
    store = HandoffStore(redis_client, RedisKeys("test:ho:"), retention_seconds=DAY)
    keys = store.keys
    await redis_client.xadd(keys.feed(), {"cid": CID, "kind": "customer", "event_id": "1-0"}, id="1-0")
    await redis_client.xadd(keys.outbound(), {"cid": CID, "text": "a year-old message"}, id="1-0")
    await store.tell_customer(Conversation(cid="c-trim", channel="web"), "hello")
    assert CID not in str(await redis_client.xrange(keys.feed()))
    assert [f["text"] for _, f in await redis_client.xrange(keys.outbound())] == ["hello"]
    assert 0 < await redis_client.ttl(keys.feed()) <= DAY
    # so does every state change
    other = HandoffStore(redis_client, RedisKeys("test:other:"), retention_seconds=DAY)
    await redis_client.xadd(other.keys.feed(), {"cid": CID, "kind": "customer", "event_id": "1-0"}, id="1-0")
    await other.request(request("c-trim"))
    feed = await redis_client.xrange(other.keys.feed())
    assert [f["cid"] for _, f in feed] == ["c-trim"]
    assert 0 < await redis_client.ttl(other.keys.feed()) <= DAY


async def test_activity_keeps_a_conversation_and_its_events_alive(redis_client: Redis) -> None:
    store = HandoffStore(redis_client, RedisKeys("test:ho:"), retention_seconds=DAY)
    await store.request(request("c-alive"))
    keys = store.keys
    # something made the record last shorter (an older retention): the next activity sets it again
    await redis_client.expire(keys.conversation("c-alive"), 10)
    await store.add_event("c-alive", Event(kind=EventKind.CUSTOMER, text="still there?"))
    for key in (keys.conversation("c-alive"), keys.events("c-alive")):
        assert DAY - 60 < await redis_client.ttl(key) <= DAY
    await store.update("c-alive", customer_name="Noa")
    assert DAY - 60 < await redis_client.ttl(keys.conversation("c-alive")) <= DAY


@pytest.mark.parametrize("days", [1, 30, 365])
def test_the_retention_setting_reaches_every_store(days: int, tmp_path: Path) -> None:
    container = Container(Settings.from_env({"KESHER_RETENTION_DAYS": str(days), "KESHER_VAR_DIR": str(tmp_path)}))
    assert container.store.retention == days * DAY
    assert container.outbox.retention == days * DAY
    assert container.identity.ttl == min(days * DAY, IDENTITY_TTL_SECONDS)


def test_a_retention_below_a_day_is_refused() -> None:
    with pytest.raises(ValueError, match="KESHER_RETENTION_DAYS"):
        Settings.from_env({"KESHER_RETENTION_DAYS": "0"})


class TrackerOf(RasaClient):
    """Rasa's HTTP API answering with a fixed tracker."""

    def __init__(self, tracker: Dict[str, Any]) -> None:
        super().__init__("http://127.0.0.1:1", "unused")
        self.answer = tracker

    async def tracker(self, cid: str) -> Dict[str, Any]:
        return self.answer


async def test_the_agents_transcript_of_the_bot_conversation_is_masked(store: HandoffStore) -> None:
    tracker = {"events": [
        {"event": "user", "text": f"my card is {CARD_NBSP} and ID {ID_SPACED}", "timestamp": 1.0},
        {"event": "bot", "text": "Thanks, what is your order number?", "timestamp": 2.0},
        {"event": "user", "text": "order 123456, phone 050-1234567", "timestamp": 3.0},
    ]}
    base = make_desk(store)
    desk = Desk(store, base.policy, base.agents, base.texts, base.identity, rasa=TrackerOf(tracker))
    turns = await desk.transcript(Conversation(cid="c-transcript"))
    assert [(t["role"], t["text"]) for t in turns] == [
        ("customer", "my card is •••• •••• •••• 9015 and ID •••••••82"),
        ("bot", "Thanks, what is your order number?"),
        ("customer", "order 123456, phone 050-1234567"),  # what an agent needs stays readable
    ]


async def test_a_conversation_that_expired_while_queued_leaves_the_queue(redis_client: Redis) -> None:
    store = HandoffStore(redis_client, RedisKeys("test:ho:"), retention_seconds=DAY)
    await store.request(request("c-gone"))
    await redis_client.delete(store.keys.conversation("c-gone"), store.keys.events("c-gone"))  # as expiry does
    assert await store.queue() == ["c-gone"]
    result = await store.take("c-gone", "dana", "Dana Levi", 3, require_online=False)
    assert not result.ok and result.state == "not_queued:bot"
    assert await store.queue() == []
