"""The supervisor's view and actions on real Redis: load, waits and alerts, reassigning and joining chats (#17)."""

from __future__ import annotations

import json
from typing import List

import pytest
from redis.asyncio import Redis

from core.errors import Conflict, InvalidInput, NotFound
from core.redis_keys import RedisKeys
from core.service_events import ServiceEvent
from handoff.desk import Desk
from handoff.event_log import EventLog
from handoff.models import ConversationState, EventKind
from handoff.presence import PresenceKeeper
from handoff.state import HandoffStore
from handoff.supervision import Supervision
from tests.handoff.helpers import Clock, agent, make_desk, request
from tests.helpers.texts import catalog

KEYS = RedisKeys("supervision:")


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def desk(redis_client: Redis, clock: Clock) -> Desk:
    return make_desk(HandoffStore(redis_client, KEYS, event_log=EventLog(redis_client, KEYS)), clock)


@pytest.fixture()
def supervision(desk: Desk) -> Supervision:
    return Supervision(desk, PresenceKeeper(desk, away_seconds=45, silent_seconds=300), wait_alert_seconds=120)


async def actions(redis: Redis) -> List[tuple[str, str, str]]:
    return [(e.kind, e.agent, e.reason) for e in
            (ServiceEvent.from_fields(f) for _, f in await redis.xrange(KEYS.service_events()))]


async def test_the_overview_shows_each_agents_presence_load_and_the_queue_with_alerts(
    desk: Desk, supervision: Supervision, clock: Clock
) -> None:
    sarah = agent(desk, "sarah")
    await desk.set_presence(sarah, "online")
    await supervision.presence.touch(sarah)
    await desk.request(request("web:one", topic="orders"))
    assert (await desk.take("web:one", sarah)).ok
    await desk.request(request("web:old", language="he"))
    clock.now += 100
    await desk.request(request("web:new", language="he"))
    clock.now += 30
    view = await supervision.overview()
    by_id = {a["id"]: a for a in view["agents"]}
    assert set(by_id) == {"dana", "omer", "sarah"}  # desk roles only: no writer, no manager
    assert (by_id["sarah"]["presence"], by_id["sarah"]["open"], by_id["sarah"]["capacity"]) == ("online", 1, 2)
    assert by_id["sarah"]["seen_seconds_ago"] == 130 and by_id["sarah"]["chats"][0]["cid"] == "web:one"
    assert (by_id["omer"]["presence"], by_id["omer"]["seen_seconds_ago"]) == ("offline", None)
    waits = {row["cid"]: (row["waiting_seconds"], row["alert"]) for row in view["queue"]}
    assert waits == {"web:old": (130, True), "web:new": (30, False)}
    assert view["alerts"] == 1


async def test_reassigning_an_active_chat_moves_it_with_its_context_and_tells_everyone(
    desk: Desk, supervision: Supervision, redis_client: Redis
) -> None:
    sarah, dana = agent(desk, "sarah"), agent(desk, "dana")
    await desk.set_presence(sarah, "online")
    await desk.request(request("web:busy"))
    assert (await desk.take("web:busy", sarah)).ok
    await desk.send("web:busy", sarah, "Checking your order")
    conv = await supervision.reassign("web:busy", dana, "dana")
    assert conv.state is ConversationState.WITH_AGENT and conv.agent_id == "dana"
    texts = catalog()
    told = [e.text for e in await desk.store.events("web:busy") if e.kind is EventKind.SYSTEM]
    assert told[-2:] == [texts.text("transferred", "en"), texts.text("agent_joined", "en", agent="Dana")]
    assert "Checking your order" in [e.text for e in await desk.store.events("web:busy")]
    [moved] = await supervision.presence.moved_from("sarah")
    assert (moved["to_agent"], moved["reason"]) == ("dana", "supervisor")
    logged = await actions(redis_client)
    assert ("handoff_transferred", "dana", "supervisor") in logged
    assert ("agent_action", "dana", "supervisor_reassign") in logged
    with pytest.raises(InvalidInput):
        await supervision.reassign("web:busy", dana, "dana")


async def test_reassigning_a_queued_chat_gives_it_to_that_agent_even_before_they_are_online(
    desk: Desk, supervision: Supervision, redis_client: Redis
) -> None:
    dana = agent(desk, "dana")
    await desk.request(request("web:waiting", language="he"))
    conv = await supervision.reassign("web:waiting", dana, "omer")
    assert conv.state is ConversationState.WITH_AGENT and conv.agent_id == "omer"
    assert ("agent_action", "dana", "supervisor_reassign") in await actions(redis_client)
    with pytest.raises(NotFound):
        await supervision.reassign("web:waiting", dana, "maya")  # a writer has no desk
    with pytest.raises(NotFound):
        await supervision.reassign("web:nobody", dana, "omer")


async def test_a_supervisor_joins_a_chat_and_the_customer_sees_the_team(
    desk: Desk, supervision: Supervision, redis_client: Redis
) -> None:
    dana = agent(desk, "dana")
    await desk.request(request("web:joined", language="he"))
    assert (await desk.take("web:joined", agent(desk, "omer"), require_online=False)).ok
    await supervision.join("web:joined", dana)
    event = await supervision.say("web:joined", dana, "שלום, אני מצטרפת לשיחה")
    assert event.kind is EventKind.AGENT and event.author == "dana" and event.author_name == "הצוות של חנות קשר"
    outbound = [fields for _, fields in await redis_client.xrange(KEYS.outbound())]
    assert outbound[-1]["text"] == "שלום, אני מצטרפת לשיחה" and outbound[-1]["author_name"] == "הצוות של חנות קשר"
    notes = [e.text for e in await desk.store.events("web:joined") if e.kind is EventKind.NOTE]
    assert any("Dana Levi" in note for note in notes)  # omer is told who joined
    logged = await actions(redis_client)
    assert ("agent_action", "dana", "supervisor_join") in logged
    assert ("agent_action", "dana", "supervisor_message") in logged
    assert json.loads(outbound[-1].get("buttons") or "[]") == []


async def test_a_closed_chat_cannot_be_joined_or_written_into(desk: Desk, supervision: Supervision) -> None:
    dana = agent(desk, "dana")
    await desk.request(request("web:done"))
    assert (await desk.take("web:done", dana, require_online=False)).ok
    await desk.close("web:done", dana, desk.policy.resolution_codes[0])
    with pytest.raises(Conflict):
        await supervision.join("web:done", dana)
    with pytest.raises(Conflict):
        await supervision.say("web:done", dana, "hello")
    with pytest.raises(Conflict):
        await supervision.reassign("web:done", dana, "sarah")
