"""Presence that tells the truth: heartbeats, the away sweeper, and customers whose agent went silent (#17)."""

from __future__ import annotations

import asyncio
import contextlib
from typing import AsyncIterator, List, Tuple

import pytest
from redis.asyncio import Redis

from core.redis_keys import RedisKeys
from core.service_events import ServiceEvent
from handoff.assigner import Assigner, DeskLoop
from handoff.desk import Desk
from handoff.event_log import EventLog
from handoff.models import ConversationState, Event, EventKind
from handoff.presence import PresenceKeeper, waiting_since
from handoff.state import HandoffStore
from tests.handoff.helpers import Clock, agent, conversation, make_desk, request
from tests.helpers.texts import catalog
from tests.helpers.waiting import until

KEYS = RedisKeys("presence:")
AWAY = 45.0
SILENT = 300.0


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def desk(redis_client: Redis, clock: Clock) -> Desk:
    return make_desk(HandoffStore(redis_client, KEYS, event_log=EventLog(redis_client, KEYS)), clock)


@pytest.fixture()
def keeper(desk: Desk) -> PresenceKeeper:
    return PresenceKeeper(desk, away_seconds=AWAY, silent_seconds=SILENT)


def assigner(desk: Desk) -> Assigner:
    return Assigner(desk, stale_after_seconds=AWAY)


async def service_events(redis: Redis) -> List[ServiceEvent]:
    return [ServiceEvent.from_fields(f) for _, f in await redis.xrange(KEYS.service_events())]


async def customer_says(desk: Desk, cid: str, text: str) -> None:
    await desk.store.add_event(cid, Event(kind=EventKind.CUSTOMER, text=text, author="customer"))


async def said_to_customer(desk: Desk, cid: str) -> List[Tuple[str, str, str]]:
    return [(e.kind.value, e.author_name, e.text) for e in await desk.store.events(cid)
            if e.kind in (EventKind.SYSTEM, EventKind.AGENT)]


# -- heartbeats and the away sweeper -----------------------------------------------------------------
async def test_an_agent_whose_heartbeats_stop_becomes_away_and_gets_no_new_chat(
    desk: Desk, keeper: PresenceKeeper, clock: Clock
) -> None:
    sarah = agent(desk, "sarah")
    await desk.set_presence(sarah, "online")
    await keeper.touch(sarah)
    clock.now += AWAY - 1
    assert (await keeper.sweep()).away == []
    assert await desk.presence("sarah") == "online"

    clock.now += 2  # no heartbeat for longer than the away time: the tab was closed
    await desk.request(request("web:closed-tab"))
    # Before the sweeper runs, the assigner already passes over an agent with a stale heartbeat ...
    assert await assigner(desk).run_once() == 0
    # ... and the sweeper makes her away.
    result = await keeper.sweep()
    assert result.swept and result.away == ["sarah"]
    assert await desk.presence("sarah") == "away"
    assert await assigner(desk).run_once() == 0
    assert (await conversation(desk.store, "web:closed-tab")).state is ConversationState.QUEUED


async def test_online_without_any_heartbeat_yet_is_given_the_away_time_from_the_first_sweep(
    desk: Desk, keeper: PresenceKeeper, clock: Clock
) -> None:
    await desk.set_presence(agent(desk, "sarah"), "online")  # through the API, no console open yet
    assert (await keeper.sweep()).away == []
    clock.now += AWAY + 1
    assert (await keeper.sweep()).away == ["sarah"]


async def test_a_heartbeat_brings_back_an_agent_the_sweeper_made_away_but_not_one_who_chose_away(
    desk: Desk, keeper: PresenceKeeper, clock: Clock
) -> None:
    sarah, omer = agent(desk, "sarah"), agent(desk, "omer")
    for someone in (sarah, omer):
        await desk.set_presence(someone, "online")
        await keeper.touch(someone)
    await desk.set_presence(omer, "away")  # his own choice
    clock.now += AWAY + 1
    assert (await keeper.sweep()).away == ["sarah"]
    assert await keeper.touch(sarah) == "online"
    assert await keeper.touch(omer) == "away"
    assert await desk.presence("omer") == "away"


async def test_a_sweep_runs_on_one_replica_at_a_time(desk: Desk, keeper: PresenceKeeper, clock: Clock) -> None:
    await desk.set_presence(agent(desk, "sarah"), "online")
    await keeper.touch(agent(desk, "sarah"))
    clock.now += AWAY + 1
    await desk.store.redis.set(KEYS.lease("presence"), "another replica", px=10_000)
    assert not (await keeper.sweep()).swept
    assert await desk.presence("sarah") == "online"
    await desk.store.redis.delete(KEYS.lease("presence"))
    assert (await keeper.sweep()).away == ["sarah"]


async def test_a_waiting_chat_is_assigned_the_moment_an_agent_comes_back(
    desk: Desk, keeper: PresenceKeeper, clock: Clock
) -> None:
    sarah = agent(desk, "sarah")
    await desk.set_presence(sarah, "online")
    await keeper.touch(sarah)
    clock.now += AWAY + 1
    await keeper.sweep()
    await desk.request(request("web:waiting"))
    # The loop's own tick is a minute: only the presence change can wake it in time.
    loop = DeskLoop(assigner(desk), tick_seconds=60)
    stop = asyncio.Event()
    task = asyncio.create_task(loop.run(stop))
    try:
        await until(_blocked_on_the_feed(desk), what="the desk loop waiting on the feed", timeout=5)
        await keeper.touch(sarah)  # she opens the console again
        conv = await until(_with_agent(desk, "web:waiting"), what="the chat assigned to sarah", timeout=5)
        assert conv.agent_id == "sarah"
    finally:
        stop.set()
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


def _blocked_on_the_feed(desk: Desk):
    async def check() -> bool:
        return any(c.get("cmd") == "xread" for c in await desk.store.redis.client_list())
    return check


def _with_agent(desk: Desk, cid: str):
    async def check():
        conv = await desk.store.get(cid)
        return conv if conv is not None and conv.state is ConversationState.WITH_AGENT else None
    return check


# -- silent agents ---------------------------------------------------------------------------------
@pytest.fixture()
async def sarahs_chat(desk: Desk, keeper: PresenceKeeper) -> AsyncIterator[str]:
    """An English chat with sarah; dana (who speaks English too) is online with room."""
    sarah, dana = agent(desk, "sarah"), agent(desk, "dana")
    for someone in (sarah, dana):
        await desk.set_presence(someone, "online")
        await keeper.touch(someone)
    await desk.request(request("web:silent", topic="orders"))
    await desk.store.add_event("web:silent", Event(kind=EventKind.NOTE, text="VIP customer", author="omer"))
    assert (await desk.take("web:silent", sarah)).ok
    yield "web:silent"


async def test_a_customer_left_unanswered_is_told_and_moved_with_the_whole_conversation(
    desk: Desk, keeper: PresenceKeeper, clock: Clock, sarahs_chat: str, redis_client: Redis
) -> None:
    cid = sarahs_chat
    await desk.send(cid, agent(desk, "sarah"), "Hi, looking into it")
    clock.now += 10
    await customer_says(desk, cid, "My parcel is lost, order 123456")
    clock.now += SILENT - 1
    await keeper.touch(agent(desk, "dana"))
    assert (await keeper.sweep()).moved == []
    clock.now += 2
    await keeper.touch(agent(desk, "dana"))
    [move] = (await keeper.sweep()).moved
    assert (move.cid, move.from_agent, move.to_agent, move.reason, move.minutes) == (cid, "sarah", "dana",
                                                                                   "agent_silent", 5)
    conv = await conversation(desk.store, cid)
    assert conv.state is ConversationState.WITH_AGENT and conv.agent_id == "dana"
    # The customer is told why, in their language, then who has them now.
    told = [text for _, _, text in await said_to_customer(desk, cid)]
    texts = catalog()
    assert told[-2:] == [texts.text("agent_silent_moved", "en"), texts.text("agent_joined", "en", agent="Dana")]
    # Dana sees the whole conversation: the customer's words, sarah's reply, the notes and why it came.
    events = await desk.store.events(cid)
    shown = [e.text for e in events]
    assert "My parcel is lost, order 123456" in shown and "Hi, looking into it" in shown and "VIP customer" in shown
    assert any(e.kind is EventKind.NOTE and "Sarah Cohen" in e.text and "5 minutes" in e.text for e in events)
    # Sarah's console learns why the chat left her.
    [moved] = await keeper.moved_from("sarah")
    assert (moved["cid"], moved["to_agent"], moved["reason"]) == (cid, "dana", "agent_silent")
    assert await keeper.moved_from("sarah", after=clock.now) == []
    # The event log has the transfer with its reason.
    kinds = [(e.kind, e.agent, e.reason) for e in await service_events(redis_client)]
    assert ("handoff_transferred", "dana", "agent_silent") in kinds
    assert ("notice_sent", "", "agent_silent_moved") in kinds
    assert ("handoff_assigned", "dana", "") in kinds


async def test_an_agent_who_answers_in_time_keeps_the_chat(
    desk: Desk, keeper: PresenceKeeper, clock: Clock, sarahs_chat: str
) -> None:
    cid = sarahs_chat
    await customer_says(desk, cid, "Hello?")
    clock.now += SILENT - 30
    await desk.send(cid, agent(desk, "sarah"), "Here, one moment")
    clock.now += 60
    await keeper.touch(agent(desk, "dana"))
    assert (await keeper.sweep()).moved == []
    assert await waiting_since(desk, await conversation(desk.store, cid)) == 0
    assert (await conversation(desk.store, cid)).agent_id == "sarah"


async def test_the_first_answer_is_owed_from_the_assignment_and_nobody_else_means_back_to_the_queue(
    desk: Desk, keeper: PresenceKeeper, clock: Clock, sarahs_chat: str, redis_client: Redis
) -> None:
    cid = sarahs_chat
    sarah, dana = agent(desk, "sarah"), agent(desk, "dana")
    conv = await conversation(desk.store, cid)
    assert await waiting_since(desk, conv) == conv.assigned_at  # sarah has not said a word yet
    await desk.set_presence(dana, "away")  # nobody else can take it
    clock.now += SILENT + 1
    await keeper.touch(sarah)  # her console is open; she just does not answer
    [move] = (await keeper.sweep()).moved
    assert (move.cid, move.from_agent, move.to_agent, move.reason, move.minutes) == (cid, "sarah", "",
                                                                                   "agent_silent", 5)
    # The chat is no longer sarah's: it waits in the queue, marked as left by her.
    conv = await conversation(desk.store, cid)
    assert conv.state is ConversationState.QUEUED and conv.agent_id == "" and conv.left_by == "sarah"
    # told their place, so the queue's position updates go on from it
    assert conv.notified_position == await desk.store.position(cid) >= 1
    assert cid not in await desk.store.redis.smembers(KEYS.agent_chats("sarah"))
    # The customer is told, in their language: someone else is being found, and they keep their place.
    texts = catalog()
    requeued = texts.text("agent_silent_requeued", "en")
    assert "keep your place" in requeued
    told = [text for _, _, text in await said_to_customer(desk, cid)]
    assert told[-1] == requeued
    # Told once: the next sweeps find nothing of sarah's to move.
    clock.now += SILENT
    await keeper.touch(sarah)
    assert (await keeper.sweep()).moved == []
    assert [text for _, _, text in await said_to_customer(desk, cid)].count(requeued) == 1
    # Sarah's console learns why the chat left her; the event log has the move, with no agent yet.
    [moved] = await keeper.moved_from("sarah")
    assert (moved["cid"], moved["to_agent"], moved["reason"]) == (cid, "", "agent_silent")
    kinds = [(e.kind, e.agent, e.reason) for e in await service_events(redis_client)]
    assert ("handoff_transferred", "", "agent_silent") in kinds
    assert ("notice_sent", "", "agent_silent_requeued") in kinds
    # It keeps its place ahead of a newer customer, and the assigner never gives it back to sarah, who is
    # online with room: she gets the newer customer instead.
    await desk.request(request("web:newer", topic="orders"))
    assert (await desk.store.queue())[0] == cid
    assert await assigner(desk).run_once() == 1
    assert (await conversation(desk.store, "web:newer")).agent_id == "sarah"
    assert (await conversation(desk.store, cid)).state is ConversationState.QUEUED
    # The next suitable agent to come online gets it, with the whole conversation.
    await desk.set_presence(dana, "online")
    await keeper.touch(dana)
    assert await assigner(desk).run_once() == 1
    conv = await conversation(desk.store, cid)
    assert conv.state is ConversationState.WITH_AGENT and conv.agent_id == "dana" and conv.left_by == ""
    events = await desk.store.events(cid)
    assert any(e.kind is EventKind.NOTE and e.text == "VIP customer" for e in events)
    assert any(e.kind is EventKind.NOTE and "Back in the queue from Sarah Cohen" in e.text
               and "5 minutes" in e.text for e in events)
    assert [text for _, _, text in await said_to_customer(desk, cid)][-1] == texts.text(
        "agent_joined", "en", agent="Dana")
