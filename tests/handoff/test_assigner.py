"""Routing to the best online agent, and telling waiting customers where they stand."""

from __future__ import annotations

from handoff.assigner import Assigner
from handoff.models import ConversationState
from handoff.state import HandoffStore
from tests.handoff.helpers import CLOSED, Clock, agent, conversation, make_desk, request


async def _online(desk, *ids: str) -> None:
    for agent_id in ids:
        await desk.set_presence(desk.agents.get(agent_id), "online")


async def _texts(store: HandoffStore, cid: str) -> list[str]:
    return [f["text"] for _, f in await store.redis.xrange(store.keys.outbound()) if f["cid"] == cid]


async def test_language_decides_who_can_take_a_conversation(store: HandoffStore) -> None:
    desk = make_desk(store)
    await _online(desk, "omer", "sarah")  # omer: Hebrew only; sarah: English only
    await desk.request(request("he-1", language="he"))
    await desk.request(request("en-1", language="en"))
    assert await Assigner(desk).run_once() == 2
    assert (await conversation(store, "he-1")).agent_id == "omer"
    assert (await conversation(store, "en-1")).agent_id == "sarah"
    assert "Sarah from our team has joined" in (await _texts(store, "en-1"))[-1]
    assert "עומר" in (await _texts(store, "he-1"))[-1]  # his Hebrew display name (handoff/agents.yml)


async def test_the_agent_who_knows_the_topic_is_preferred(store: HandoffStore) -> None:
    desk = make_desk(store)
    await _online(desk, "dana", "omer")  # both speak Hebrew; omer knows payments, dana orders
    await desk.request(request("pay", language="he", topic="payments"))
    await desk.request(request("ord", language="he", topic="orders"))
    await Assigner(desk).run_once()
    assert (await conversation(store, "pay")).agent_id == "omer"
    assert (await conversation(store, "ord")).agent_id == "dana"


async def test_capacity_is_respected_and_the_rest_wait(store: HandoffStore) -> None:
    desk = make_desk(store)
    await _online(desk, "sarah")  # capacity 2
    for n in range(4):
        await desk.request(request(f"en-{n}"))
    assert await Assigner(desk).run_once() == 2
    assert await store.queue() == ["en-2", "en-3"]
    # The two still waiting were told their new place.
    assert "number 1 in line" in (await _texts(store, "en-2"))[-1]


async def test_nobody_online_keeps_the_queue_and_away_agents_get_nothing(store: HandoffStore) -> None:
    desk = make_desk(store)
    await desk.set_presence(agent(desk, "dana"), "away")
    ticket = await desk.request(request("q1"))
    assert ticket.agents_online == 0 and ticket.eta_minutes == 0
    assert await Assigner(desk).run_once() == 0
    assert await store.state("q1") is ConversationState.QUEUED


async def test_transfer_to_a_team_goes_to_a_member(store: HandoffStore) -> None:
    desk = make_desk(store)
    await _online(desk, "dana")
    await desk.request(request("t1", language="he"))
    await Assigner(desk).run_once()
    await _online(desk, "omer")
    await desk.transfer("t1", agent(desk, "dana"), to_team="billing")
    await Assigner(desk).run_once()
    conv = await conversation(store, "t1")
    assert conv.state is ConversationState.WITH_AGENT and conv.agent_id == "omer"


async def test_outside_business_hours_the_request_stays_queued_and_says_when(store: HandoffStore) -> None:
    desk = make_desk(store, Clock(CLOSED))
    ticket = await desk.request(request("night", language="en"))
    assert not ticket.in_hours
    text = desk.ticket_text(ticket, "en")
    assert "away right now" in text and "Sunday" in text and ticket.reference in text
    assert (await conversation(store, "night")).after_hours


async def test_the_estimate_follows_recent_handling_times(store: HandoffStore) -> None:
    clock = Clock()
    desk = make_desk(store, clock)
    await _online(desk, "sarah")  # capacity 2
    for n in range(3):  # three conversations of 10 minutes each
        await desk.request(request(f"h{n}"))
        await desk.take(f"h{n}", agent(desk, "sarah"))
        clock.now += 600
        await desk.close(f"h{n}", agent(desk, "sarah"), "resolved")
    est = await desk.estimate(3)
    assert est.eta_minutes == 20  # 10 minutes × ceil(3 / 2)
