"""The handoff state machine on a real redis-server."""

from __future__ import annotations

import asyncio
from typing import Dict, List

from handoff.models import ConversationState, Event, EventKind, HandoffRequest
from handoff.state import HandoffStore
from tests.helpers.racing import race_for_conversations
from tests.helpers.redis_server import RedisServer

RACES = 500


def _request(cid: str, priority: int = 0) -> HandoffRequest:
    return HandoffRequest(cid=cid, channel="callback", language="he", reason="explicit_request",
                          reference="K-000001", priority=priority, email="dana@example.com")


async def _online(store: HandoffStore, agent_id: str) -> None:
    await store.redis.sadd(store.keys.agents_online(), agent_id)


async def test_full_cycle_bot_queued_agent_closed_bot(store: HandoffStore) -> None:
    assert await store.state("c1") is ConversationState.BOT
    assert (await store.request(_request("c1"))).ok
    assert await store.position("c1") == 1
    await _online(store, "dana")
    taken = await store.take("c1", "dana", "Dana Levi", capacity=2)
    assert taken.ok and taken.state == "with_agent"
    assert await store.position("c1") == 0
    closed = await store.close("c1", "dana", "resolved", summary="Refunded")
    assert closed.ok
    conv = await store.get("c1")
    assert conv is not None and conv.state is ConversationState.CLOSED
    assert conv.resolution == "resolved" and conv.agent_name == "Dana Levi" and conv.csat_stage == "rating"
    assert len(await store.handle_times()) == 1
    assert (await store.resume("c1")).ok
    assert await store.state("c1") is ConversationState.BOT
    states = [e.text for e in await store.events("c1") if e.kind is EventKind.STATE]
    assert states == ["queued", "with_agent", "closed", "bot"]


async def test_invalid_transitions_are_refused(store: HandoffStore) -> None:
    assert not (await store.take("nobody", "dana", "Dana", 2, require_online=False)).ok
    await store.request(_request("c2"))
    again = await store.request(_request("c2"))
    assert not again.ok and again.state == "queued"
    assert not (await store.close("c2", "dana", "resolved")).ok  # not with an agent yet
    assert (await store.take("c2", "dana", "Dana", 2)).state == "agent_offline"
    await _online(store, "dana")
    assert (await store.take("c2", "dana", "Dana", 2)).ok
    assert (await store.close("c2", "omer", "resolved")).state == "not_owner"
    assert not (await store.give_up("c2")).ok  # with an agent: giving up is not queued → bot


async def test_priority_then_first_come(store: HandoffStore) -> None:
    clock = iter(range(1000, 2000))
    store.clock = lambda: float(next(clock))
    await store.request(_request("early"))
    await store.request(_request("late"))
    await store.request(_request("urgent", priority=2))
    assert await store.queue() == ["urgent", "early", "late"]


async def test_agent_capacity_is_enforced(store: HandoffStore) -> None:
    await _online(store, "dana")
    for cid in ("a", "b", "c"):
        await store.request(_request(cid))
    assert (await store.take("a", "dana", "Dana", 2)).ok
    assert (await store.take("b", "dana", "Dana", 2)).ok
    assert (await store.take("c", "dana", "Dana", 2)).state == "agent_full"


async def test_transfer_requeues_for_the_target_only(store: HandoffStore) -> None:
    await _online(store, "dana")
    await _online(store, "omer")
    await _online(store, "noa")
    await store.request(_request("t"))
    await store.take("t", "dana", "Dana", 2)
    moved = await store.transfer("t", "dana", target_agent="omer")
    assert moved.ok and await store.position("t") == 1
    assert (await store.take("t", "noa", "Noa", 2)).state == "reserved"
    assert (await store.take("t", "omer", "Omer", 2)).ok


async def test_agents_in_separate_processes_racing_for_each_conversation_leave_one_owner(
    store: HandoffStore, redis_server: RedisServer
) -> None:
    agents = ["dana", "omer", "noa", "avi"]
    for agent in agents:
        await _online(store, agent)
    cids = [f"race-{n}" for n in range(RACES)]
    for cid in cids:
        await store.request(_request(cid))

    attempts = await asyncio.to_thread(race_for_conversations, redis_server.port, store.keys.prefix, agents, cids)

    assert len(attempts) == len(agents) * len(cids)
    winners: Dict[str, List[str]] = {}
    for attempt in attempts:
        if attempt.ok:
            winners.setdefault(attempt.cid, []).append(attempt.agent_id)
        else:  # the others are told it is no longer waiting: someone has it
            assert attempt.state == "not_queued:with_agent", attempt
    assert {cid: len(won) for cid, won in winners.items()} == dict.fromkeys(cids, 1)
    for cid, [winner] in winners.items():
        conv = await store.get(cid)
        assert conv is not None and conv.state is ConversationState.WITH_AGENT and conv.agent_id == winner
        holders = [a for a in agents if await store.redis.sismember(store.keys.agent_chats(a), cid)]
        assert holders == [winner]
    assert await store.queue() == []
    # The race was real: no process always got there first.
    assert len({winner for [winner] in winners.values()}) > 1


async def test_messages_and_outbound_are_written_together(store: HandoffStore) -> None:
    await store.request(_request("m"))
    conv = await store.get("m")
    assert conv is not None
    await store.add_event("m", Event(kind=EventKind.CUSTOMER, text="<b>hi</b>", author="customer"))
    await store.tell_customer(conv, "You are number 1", buttons=(("Back to the bot", "/handoff_cancel"),))
    events = await store.events("m")
    assert [e.kind for e in events] == [EventKind.STATE, EventKind.CUSTOMER, EventKind.SYSTEM]
    out = await store.redis.xrange(store.keys.outbound())
    assert len(out) == 1 and out[0][1]["text"] == "You are number 1" and out[0][1]["cid"] == "m"
    later = await store.events("m", after=events[0].stream_id)
    assert [e.text for e in later] == ["<b>hi</b>", "You are number 1"]
