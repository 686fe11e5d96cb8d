"""The event log fed by the real handoff service: a handoff from queue to CSAT leaves the rows a manager counts on.

The service runs in the test's loop (real HTTP on a free port, real Redis, its mover writing
the default SQLite file in its var folder); the handoff's clock is the test's, so waits and
handling times are exact.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Dict, List

import httpx
from redis.asyncio import Redis
from sqlalchemy import select

from analytics.engine import events_engine
from analytics.kpis import KpiFilter, kpi_breakdown, kpi_report
from analytics.tables import service_events
from console.app import create_app
from console.context import state
from core.processes import free_port
from core.redis_keys import RedisKeys
from core.service_events import pseudonym
from core.settings import Settings
from handoff.models import HandoffRequest
from handoff.router import InboundMessage
from tests.console.conftest import login
from tests.helpers.console_app import copy_demo_agents
from tests.helpers.redis_server import RedisServer
from tests.helpers.sanic_server import serving
from tests.helpers.waiting import until
from wiring.container import Container

KEYS = RedisKeys("event-log-test:")
CID = "web:event-log-1"
CONTACT = "web:event-log-1@1700000000"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def rows(settings: Settings) -> List[Dict[str, Any]]:
    engine = events_engine(settings.events_db_url)
    try:
        with engine.connect() as connection:
            found = connection.execute(select(service_events).order_by(service_events.c.id)).mappings().all()
            return [dict(row) for row in found]
    except Exception:
        return []
    finally:
        engine.dispose()


async def agent(base_url: str, agent_id: str) -> tuple[httpx.AsyncClient, Dict[str, str]]:
    client = httpx.AsyncClient(base_url=base_url)
    csrf = await login(client, agent_id)
    headers = {"X-CSRF-Token": csrf}
    assert (await client.post("/console/api/presence", json={"status": "online"}, headers=headers)).status_code == 200
    return client, headers


async def test_a_handoff_from_queue_to_csat_leaves_its_events(redis_server: RedisServer, redis_client: Redis,
                                                              tmp_path: Path) -> None:
    settings = service_settings(redis_server, tmp_path)
    clock = Clock()
    start = clock.now
    app = create_app(settings, container=container_for(settings, clock), name="event_log_flow")
    service = state(app)
    async with serving(app) as base:
        await service.desk.request(HandoffRequest(
            cid=CID, channel="web", language="he", reason="explicit_request", reference="K-E1E1E1",
            topic="payments", contact=CONTACT, asked=["my card is 4111 1111 1111 1111, write to noa@example.com"],
        ))
        omer, omer_headers = await agent(base, "omer")
        dana, dana_headers = await agent(base, "dana")
        try:
            clock.now = start + 90
            assert (await omer.post(f"/console/api/chats/{CID}/take", headers=omer_headers)).status_code == 200
            clock.now = start + 120
            for text in ("שלום, אני בודק", "עוד רגע"):
                sent = await omer.post(f"/console/api/chats/{CID}/messages", json={"text": text},
                                       headers=omer_headers)
                assert sent.status_code == 201, sent.text
                clock.now += 10
            clock.now = start + 200
            moved = await omer.post(f"/console/api/chats/{CID}/transfer", json={"to_team": "orders"},
                                    headers=omer_headers)
            assert moved.status_code == 200, moved.text
            clock.now = start + 260
            assert (await dana.post(f"/console/api/chats/{CID}/take", headers=dana_headers)).status_code == 200
            clock.now = start + 560
            closed = await dana.post(f"/console/api/chats/{CID}/close", json={"resolution": "replacement_sent"},
                                     headers=dana_headers)
            assert closed.status_code == 200, closed.text
        finally:
            await omer.aclose()
            await dana.aclose()
        router = service.container.router
        clock.now = start + 600
        await router.route(InboundMessage(cid=CID, channel="web", text="4"))
        await router.route(InboundMessage(cid=CID, channel="web", text="תודה, תתקשרו ל-050-1234567"))

        found = await until(lambda: _with_kind(settings, "returned_to_bot"), what="the handoff's rows", timeout=30)

    by_kind: Dict[str, List[Dict[str, Any]]] = {}
    for row in found:
        by_kind.setdefault(row["kind"], []).append(row)
    # The database never sees the conversation id (it may hold a phone number): a keyed pseudonym stands for it.
    alias = pseudonym(settings.events_secret, CID)
    assert all(r["conversation"] == alias and r["contact"] == f"{alias}@1700000000" and r["channel"] == "web"
               and r["language"] == "he" for r in found)
    assert CID not in {r["conversation"] for r in found} and alias != pseudonym("another secret", CID)
    queued, = by_kind["handoff_queued"]
    assert (queued["reason"], queued["topic"]) == ("explicit_request", "payments")
    assert "4111 1111 1111 1111" not in queued["text"] and "noa@example.com" not in queued["text"]
    assert "1111" in queued["text"]  # masked, the last digits kept
    first, second = by_kind["handoff_assigned"]
    assert (first["agent"], first["team"], first["value"]) == ("omer", "billing", 90.0)
    assert (second["agent"], second["team"], second["value"]) == ("dana", "orders", 60.0)  # waited since the transfer
    replies = by_kind["agent_message"]
    assert [(r["agent"], r["reason"], r["value"]) for r in replies] == [("omer", "first", 30.0), ("omer", "", None)]
    # Omer's team for the payments topic: a first reply counts for the team too.
    assert [r["team"] for r in replies] == ["billing", "billing"]
    transferred, = by_kind["handoff_transferred"]
    assert (transferred["team"], transferred["reason"]) == ("orders", "team")
    action, = by_kind["agent_action"]
    assert (action["agent"], action["reason"]) == ("omer", "transfer")
    closed_row, = by_kind["closed"]
    assert (closed_row["agent"], closed_row["team"], closed_row["reason"], closed_row["value"]) == (
        "dana", "orders", "replacement_sent", 300.0)
    asked, = by_kind["csat_asked"]
    assert asked["reason"] == "agent"
    csat, = by_kind["csat"]
    assert (csat["value"], csat["reason"], csat["agent"], csat["team"]) == (4.0, "agent", "dana", "orders")
    assert "050-1234567" not in csat["text"] and csat["text"].startswith("תודה")
    back, = by_kind["returned_to_bot"]
    assert back["reason"] == "csat_done"
    notices = [r["reason"] for r in by_kind["notice_sent"]]
    # The assigner may also have told the waiting customer a new estimate once agents came online.
    assert "transferred" in notices and set(notices) <= {"transferred", "queue_position"}

    # The KPIs per team, from what the desk and the router recorded (no team set by hand): Omer's first reply
    # counts for billing, Dana's close and the customer's 4 for orders.
    today = datetime.now(UTC).replace(tzinfo=None)
    period = KpiFilter(today - timedelta(days=1), today + timedelta(days=1))
    engine = events_engine(settings.events_db_url)
    try:
        billing = kpi_report(engine, replace(period, team="billing"))
        orders = kpi_report(engine, replace(period, team="orders"))
        teams = {row["group"]: row for row in kpi_breakdown(engine, period, "team")}
    finally:
        engine.dispose()
    assert billing["first_reply"] == {"p50": 30.0, "p90": 30.0, "count": 1}
    assert billing["csat"]["count"] == 0
    assert orders["first_reply"]["count"] == 0
    assert (orders["csat"]["avg"], orders["csat"]["count"]) == (4.0, 1)
    assert (teams["orders"]["csat_avg"], teams["orders"]["csat_count"]) == (4.0, 1)
    assert (teams["billing"]["csat_avg"], teams["billing"]["csat_count"]) == (None, 0)


async def test_a_customer_who_gives_up_in_the_queue_is_counted_as_abandoned(
        redis_server: RedisServer, redis_client: Redis, tmp_path: Path) -> None:
    settings = service_settings(redis_server, tmp_path)
    clock = Clock()
    start = clock.now
    app = create_app(settings, container=container_for(settings, clock), name="event_log_abandon")
    service = state(app)
    async with serving(app) as base:
        del base
        await service.desk.request(HandoffRequest(cid=CID, channel="web", language="en", reason="complaint",
                                                  reference="K-E2E2E2", contact=CONTACT))
        clock.now = start + 45
        await service.container.router.route(InboundMessage(cid=CID, channel="web", text="never mind"))
        found = await until(lambda: _with_kind(settings, "returned_to_bot"), what="the abandonment's rows",
                            timeout=30)
    kinds = {row["kind"]: row for row in found}
    assert kinds["abandoned"]["value"] == 45.0 and kinds["abandoned"]["language"] == "en"
    assert kinds["returned_to_bot"]["reason"] == "gave_up"
    assert "handoff_assigned" not in kinds


async def test_a_conversation_left_in_the_queue_until_it_lapses_is_counted_as_abandoned(
        redis_server: RedisServer, redis_client: Redis, tmp_path: Path) -> None:
    settings = service_settings(redis_server, tmp_path)
    clock = Clock()
    start = clock.now
    gone = "web:event-log-gone"
    app = create_app(settings, container=container_for(settings, clock), name="event_log_lapse")
    service = state(app)
    async with serving(app):
        await service.desk.request(HandoffRequest(cid=CID, channel="web", language="he", reason="complaint",
                                                  reference="K-E4E4E4", topic="orders", contact=CONTACT))
        await service.desk.request(HandoffRequest(cid=gone, channel="web", language="en", reason="complaint",
                                                  reference="K-E5E5E5", contact=f"{gone}@1700000000"))
        assert await service.store.queue() == [CID, gone]
        clock.now = start + 3 * 86400
        # Nothing happened in either for nearly the retention: CID's record expires within the lapse margin
        # (a day), gone's already expired (no handoff service ran meanwhile).
        assert await redis_client.expire(KEYS.conversation(CID), 600)
        assert await redis_client.delete(KEYS.conversation(gone)) == 1
        found = await until(lambda: _with_kind(settings, "returned_to_bot"), what="the lapsed conversation's rows",
                            timeout=30)
        assert await service.store.queue() == []
        assert await service.store.state(CID) == "bot"
        assert await redis_client.ttl(KEYS.conversation(CID)) > 600  # back with the bot: kept the whole retention
        found = await until(lambda: [r for r in rows(settings) if r["reason"] == "expired"] and rows(settings),
                            what="the expired conversation's row", timeout=30)
    alias = pseudonym(settings.events_secret, CID)
    timed_out, = [r for r in found if r["kind"] == "abandoned" and r["conversation"] == alias]
    assert (timed_out["reason"], timed_out["value"], timed_out["contact"]) == (
        "timed_out", 3 * 86400.0, f"{alias}@1700000000")
    assert (timed_out["channel"], timed_out["language"], timed_out["topic"]) == ("web", "he", "orders")
    back, = [r for r in found if r["kind"] == "returned_to_bot"]
    assert back["reason"] == "timed_out"
    expired, = [r for r in found if r["kind"] == "abandoned" and r["reason"] == "expired"]
    assert expired["conversation"] == pseudonym(settings.events_secret, gone) and expired["contact"] == ""
    # The abandonment KPI counts the lapsed contact; the expired one's record (and contact) was gone.
    today = datetime.now(UTC).replace(tzinfo=None)
    engine = events_engine(settings.events_db_url)
    try:
        report = kpi_report(engine, KpiFilter(today - timedelta(days=1), today + timedelta(days=1)))
    finally:
        engine.dispose()
    assert report["abandonment"] == {"rate": 0.5, "abandoned": 1, "queued": 2}


async def test_the_event_log_can_be_switched_off(redis_server: RedisServer, redis_client: Redis,
                                                 tmp_path: Path) -> None:
    settings = service_settings(redis_server, tmp_path, event_log=False)
    app = create_app(settings, container=container_for(settings, Clock()), name="event_log_off")
    async with serving(app):
        await state(app).desk.request(HandoffRequest(cid=CID, channel="web", language="en", reason="complaint",
                                                     reference="K-E3E3E3", contact=CONTACT))
        assert await state(app).store.state(CID) == "queued"
    assert await redis_client.exists(KEYS.service_events()) == 0
    assert not (tmp_path / "var" / "events.db").exists()


def service_settings(redis_server: RedisServer, tmp_path: Path, **values: Any) -> Settings:
    """The handoff service's settings on the test's redis-server: demo agents, chats assigned by hand."""
    return Settings(var_dir=tmp_path / "var", agents_file=copy_demo_agents(tmp_path), manual_assign=True,
                    **values).with_ports(redis=redis_server.port, rasa=free_port(), actions=free_port(),
                                         smtp=free_port())


def container_for(settings: Settings, clock: Clock) -> Container:
    container = Container(settings, clock=clock)
    # Apart from the handoff service the other console tests run on this redis-server (it has a mover too).
    container.keys = KEYS
    return container


def _with_kind(settings: Settings, kind: str) -> List[Dict[str, Any]]:
    found = rows(settings)
    return found if any(r["kind"] == kind for r in found) else []
