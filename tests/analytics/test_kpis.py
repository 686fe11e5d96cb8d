"""The KPIs of docs/kpis.md on a seeded event set worked out by hand, on SQLite and on a real PostgreSQL.

The period is 2 and 3 November 2026 (``[Nov 2, Nov 4)``). Who is who (every event of a contact
carries the contact's channel and language):

====  =====================  ========  ====  =================================================================
id    conversation           channel   lang  what happened
====  =====================  ========  ====  =================================================================
A1    web:alice              web       en    Nov 2 09:00-09:02 answered, fell back, answered (shipping); bot
                                             CSAT 5. Came back as A2 on Nov 5 about shipping (after the
                                             period, within 7 days).
B1    whatsapp:bob           whatsapp  he    Nov 2 10:00 fell back, 10:01 handed off (returns), queued
                                             (asked_for_human), dana (orders) took it after 120 s, first reply
                                             60 s, closed after 420 s; agent CSAT 4 by dana. Came back as B2
                                             on Nov 9 10:05 about returns (7 days and 4 minutes later).
C1    web:carol              web       en    Nov 2 23:58 handed off (refund); queued Nov 3 00:01 (order_problem,
                                             after midnight); omer took it after 180 s, first reply 120 s,
                                             closed after 960 s; agent CSAT 2 with no agent named.
D1    web:dan                web       he    Nov 3 08:00 answered (refund), 08:01 fell back.
D2    web:dan                web       he    Nov 3 12:00 answered (shipping); bot CSAT 3, and a broken rating 9.
E1    telegram:erin          telegram  en    Nov 3 14:00 handed off (payment), queued (asked_for_human),
                                             abandoned after 300 s.
F1    whatsapp:frank         whatsapp  he    Nov 3 16:00 queued with no turn (bot_failed); sarah (billing)
                                             took it after 120 s, first reply 60 s, closed after 1680 s.
G1    web:gina               web       en    Nov 1 23:50 answered (shipping), Nov 2 00:05 fell back: started
                                             before the period.
H     rest:anon              rest      en    Nov 3 10:00 one answered turn without a contact id.
====  =====================  ========  ====  =================================================================
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Dict, Iterator, List

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from analytics.kpis import KPI_NAMES, KpiFilter, kpi_breakdown, kpi_report
from analytics.tables import metadata, service_events
from core.errors import InvalidInput
from core.service_events import turn_topic

NOV2, NOV3, NOV4 = datetime(2026, 11, 2), datetime(2026, 11, 3), datetime(2026, 11, 4)
WHOLE = KpiFilter(NOV2, NOV4)

CUSTOMERS = {"alice": ("web:alice", "web", "en"), "bob": ("whatsapp:bob", "whatsapp", "he"),
             "carol": ("web:carol", "web", "en"), "dan": ("web:dan", "web", "he"),
             "erin": ("telegram:erin", "telegram", "en"), "frank": ("whatsapp:frank", "whatsapp", "he"),
             "gina": ("web:gina", "web", "en"), "anon": ("rest:anon", "rest", "en")}


def _events() -> List[Dict[str, Any]]:
    rows: List[Dict[str, Any]] = []

    def ev(who: str, contact: str, at: datetime, kind: str, **fields: Any) -> None:
        conversation, channel, language = CUSTOMERS[who]
        row: Dict[str, Any] = {"event_id": f"{len(rows)}-0", "at": at, "kind": kind, "conversation": conversation,
                               "contact": contact, "channel": channel, "language": language, "intent": "",
                               "confidence": None, "outcome": "", "reason": "", "topic": "", "agent": "",
                               "team": "", "value": None, "text": ""}
        row.update(fields)
        rows.append(row)

    def turn(who: str, contact: str, at: datetime, outcome: str, topic: str = "", text: str = "",
             intent: str = "") -> None:
        ev(who, contact, at, "turn", outcome=outcome, topic=topic, text=text,
           intent=intent or ("nlu_fallback" if outcome == "fell_back" else
                             "human_handoff" if outcome == "handed_off" else f"faq/{topic}"))

    m = timedelta(minutes=1)
    a1 = NOV2 + timedelta(hours=9)
    turn("alice", "A1", a1, "answered", "shipping")
    turn("alice", "A1", a1 + m, "fell_back", text="Where is  my PARCEL")
    turn("alice", "A1", a1 + 2 * m, "answered", "shipping")
    ev("alice", "A1", a1 + 3 * m, "csat", reason="bot", value=5.0)
    turn("alice", "A2", datetime(2026, 11, 5, 10), "answered", "shipping")

    b1 = NOV2 + timedelta(hours=10)
    turn("bob", "B1", b1, "fell_back", text="where is my parcel")
    turn("bob", "B1", b1 + m, "handed_off", "returns", text="I want a person")
    ev("bob", "B1", b1 + m, "handoff_queued", reason="asked_for_human", topic="returns", text="I want a person")
    ev("bob", "B1", b1 + 3 * m, "handoff_assigned", agent="dana", team="orders", value=120.0)
    ev("bob", "B1", b1 + 4 * m, "agent_message", agent="dana", reason="first", value=60.0)
    ev("bob", "B1", b1 + 5 * m, "agent_message", agent="dana")
    ev("bob", "B1", b1 + 10 * m, "closed", agent="dana", team="orders", reason="solved", value=420.0)
    ev("bob", "B1", b1 + 11 * m, "csat", reason="agent", agent="dana", team="orders", value=4.0)
    turn("bob", "B2", datetime(2026, 11, 9, 10, 5), "answered", "returns")

    c1 = NOV2 + timedelta(hours=23, minutes=58)
    turn("carol", "C1", c1, "handed_off", "refund", text="refund please")
    ev("carol", "C1", NOV3 + m, "handoff_queued", reason="order_problem", topic="refund")
    ev("carol", "C1", NOV3 + 4 * m, "handoff_assigned", agent="omer", team="orders", value=180.0)
    ev("carol", "C1", NOV3 + 6 * m, "agent_message", agent="omer", reason="first", value=120.0)
    ev("carol", "C1", NOV3 + 20 * m, "closed", agent="omer", team="orders", value=960.0)
    ev("carol", "C1", NOV3 + 21 * m, "csat", reason="agent", value=2.0)

    d1 = NOV3 + timedelta(hours=8)
    turn("dan", "D1", d1, "answered", "refund")
    turn("dan", "D1", d1 + m, "fell_back", text="  where is my\tparcel ")
    d2 = NOV3 + timedelta(hours=12)
    turn("dan", "D2", d2, "answered", "shipping")
    ev("dan", "D2", d2 + 5 * m, "csat", reason="bot", value=3.0)
    ev("dan", "D2", d2 + 6 * m, "csat", reason="bot", value=9.0)

    e1 = NOV3 + timedelta(hours=14)
    turn("erin", "E1", e1, "handed_off", "payment", text="card declined")
    ev("erin", "E1", e1, "handoff_queued", reason="asked_for_human", topic="payment")
    ev("erin", "E1", e1 + 5 * m, "abandoned", value=300.0)

    f1 = NOV3 + timedelta(hours=16)
    ev("frank", "F1", f1, "handoff_queued", reason="bot_failed")
    ev("frank", "F1", f1 + 2 * m, "handoff_assigned", agent="sarah", team="billing", value=120.0)
    ev("frank", "F1", f1 + 3 * m, "agent_message", agent="sarah", reason="first", value=60.0)
    ev("frank", "F1", f1 + 30 * m, "closed", agent="sarah", team="billing", value=1680.0)

    g1 = NOV2 - timedelta(minutes=10)
    turn("gina", "G1", g1, "answered", "shipping")
    turn("gina", "G1", NOV2 + 5 * m, "fell_back", text="late question")

    turn("anon", "", NOV3 + timedelta(hours=10), "answered", "store_hours")
    return rows


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'events.db'}"
    else:
        url = request.getfixturevalue("postgres").create_database(f"kpis_{uuid.uuid4().hex[:12]}")
    engine = create_engine(url)
    metadata.create_all(engine)
    yield engine
    engine.dispose()


@pytest.fixture()
def db(empty_db: Engine) -> Engine:
    with empty_db.begin() as conn:
        conn.execute(service_events.insert(), _events())
    return empty_db


def test_every_kpi_over_the_whole_period(db: Engine) -> None:
    report = kpi_report(db, WHOLE)
    assert list(report) == list(KPI_NAMES)
    # Contacts that started in the period: A1 B1 C1 D1 D2 E1 F1 (G1 started on Nov 1, A2 on Nov 5, H has no
    # contact id). Contained: A1 and D2 (no queue, last turn answered); D1's last turn fell back.
    assert report["containment"] == {"rate": pytest.approx(2 / 7), "contained": 2, "contacts": 7}
    # Queued in the period: B1, C1 (Nov 3 00:01), E1, F1 (no turn) -> 4 of 7.
    assert report["handoff_rate"] == {
        "rate": pytest.approx(4 / 7), "handoffs": 4, "contacts": 7,
        "by_reason": [{"reason": "asked_for_human", "count": 2, "rate": pytest.approx(2 / 7)},   # B1, E1
                      {"reason": "bot_failed", "count": 1, "rate": pytest.approx(1 / 7)},        # F1
                      {"reason": "order_problem", "count": 1, "rate": pytest.approx(1 / 7)}]}    # C1
    # Waits 120 (B1), 120 (F1), 180 (C1): nearest rank p50 = 2nd of 3 = 120, p90 = 3rd (ceil 2.7) = 180.
    assert report["queue_wait"] == {"p50": 120.0, "p90": 180.0, "count": 3}
    # First replies 60 (B1), 60 (F1), 120 (C1).
    assert report["first_reply"] == {"p50": 60.0, "p90": 120.0, "count": 3}
    # Handling 420 (B1), 960 (C1), 1680 (F1): average 3060 / 3 = 1020.
    assert report["handling_time"] == {"p50": 960.0, "p90": 1680.0, "avg": 1020.0, "count": 3}
    # Contacts with a topic: A1 (shipping; A2 came back on shipping 3 days later: not resolved), B1 (returns;
    # B2 came back after 7 days 4 minutes: resolved), C1, D1 (refund; D2 is about shipping), D2, E1. F1 has
    # no turn, hence no topic. 5 of 6.
    assert report["fcr"] == {"rate": pytest.approx(5 / 6), "resolved": 5, "contacts": 6}
    # First queued in the period: B1 C1 E1 F1; E1 left the queue.
    assert report["abandonment"] == {"rate": 0.25, "abandoned": 1, "queued": 4}
    # Ratings 5 (A1 bot), 4 (B1 dana), 2 (C1 agent, none named), 3 (D2 bot); D2's 9 is not a rating.
    # (5 + 4 + 2 + 3) / 4 = 3.5; bot (5 + 3) / 2 = 4; agent (4 + 2) / 2 = 3.
    assert report["csat"] == {
        "avg": 3.5, "count": 4, "distribution": {"1": 0, "2": 1, "3": 1, "4": 1, "5": 1},
        "by_source": {"bot": {"avg": 4.0, "count": 2, "distribution": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1}},
                      "agent": {"avg": 3.0, "count": 2, "distribution": {"1": 0, "2": 1, "3": 0, "4": 1, "5": 0}}}}
    # Turns in the period: A1 3, B1 2, C1 1, D1 2, D2 1, E1 1, G1 1 (Nov 2 00:05), H 1 = 12; fell back:
    # A1, B1, D1, G1 = 4.
    assert report["fallback_rate"] == {"rate": pytest.approx(4 / 12), "fallbacks": 4, "turns": 12}
    # "Where is  my PARCEL", "where is my parcel", "  where is my\tparcel " are one question; the rest once,
    # in alphabetical order.
    assert report["top_unanswered"] == [
        {"text": "where is my parcel", "intent": "nlu_fallback", "count": 3, "outcome": "fell_back"},
        {"text": "card declined", "intent": "human_handoff", "count": 1, "outcome": "handed_off"},
        {"text": "i want a person", "intent": "human_handoff", "count": 1, "outcome": "handed_off"},
        {"text": "late question", "intent": "nlu_fallback", "count": 1, "outcome": "fell_back"},
        {"text": "refund please", "intent": "human_handoff", "count": 1, "outcome": "handed_off"}]
    # Nov 2: turns A1 3 + B1 2 + C1 1 + G1 1; contacts A1 B1 C1 (C1 started 23:58); contained A1; queued B1
    # (C1 was queued after midnight); fell back A1 B1 G1; CSAT 5 and 4 (C1 rated after midnight).
    # Nov 3: turns D1 2 + D2 1 + E1 1 + H 1; contacts D1 D2 E1 F1; contained D2; queued C1 E1 F1; fell back D1;
    # CSAT 2 and 3.
    assert report["daily"] == [
        {"day": "2026-11-02", "turns": 7, "contacts": 3, "contained": 1, "handoffs": 1, "fallbacks": 3,
         "csat_avg": 4.5},
        {"day": "2026-11-03", "turns": 5, "contacts": 4, "contained": 1, "handoffs": 3, "fallbacks": 1,
         "csat_avg": 2.5}]


def test_a_contact_is_counted_in_the_period_it_started(db: Engine) -> None:
    report = kpi_report(db, KpiFilter(NOV2, NOV3))
    # A1 B1 C1 started on Nov 2. C1 is not contained although its queueing came after the period ends.
    assert report["containment"] == {"rate": pytest.approx(1 / 3), "contained": 1, "contacts": 3}
    # ...but a handoff counts on the day it was queued: only B1's.
    assert report["handoff_rate"]["handoffs"] == 1
    assert report["abandonment"] == {"rate": 0.0, "abandoned": 0, "queued": 1}
    # C1 waited into Nov 3: only B1's wait is in Nov 2.
    assert report["queue_wait"] == {"p50": 120.0, "p90": 120.0, "count": 1}
    # A1 (came back on Nov 5, after the period: looked up anyway), B1, C1.
    assert report["fcr"] == {"rate": pytest.approx(2 / 3), "resolved": 2, "contacts": 3}
    assert report["fallback_rate"] == {"rate": pytest.approx(3 / 7), "fallbacks": 3, "turns": 7}
    assert [d["day"] for d in report["daily"]] == ["2026-11-02"]


def test_channel_and_language_filters(db: Engine) -> None:
    web = kpi_report(db, KpiFilter(NOV2, NOV4, channel="web"))
    # Web contacts A1 C1 D1 D2, contained A1 D2; web turns A1 3 + C1 1 + D1 2 + D2 1 + G1 1 = 8, fell back
    # A1 D1 G1.
    assert web["containment"] == {"rate": 0.5, "contained": 2, "contacts": 4}
    assert web["fallback_rate"] == {"rate": pytest.approx(3 / 8), "fallbacks": 3, "turns": 8}
    assert web["csat"]["avg"] == pytest.approx(10 / 3)  # A1 5, C1 2, D2 3
    assert web["queue_wait"] == {"p50": 180.0, "p90": 180.0, "count": 1}  # C1
    # Hebrew: B1 D1 D2 F1, contained D2; B1's returns did not come back within 7 days, D1 and D2 either.
    hebrew = kpi_report(db, KpiFilter(NOV2, NOV4, language="he"))
    assert hebrew["containment"] == {"rate": 0.25, "contained": 1, "contacts": 4}
    assert hebrew["fcr"] == {"rate": 1.0, "resolved": 3, "contacts": 3}
    assert hebrew["top_unanswered"] == [
        {"text": "where is my parcel", "intent": "nlu_fallback", "count": 2, "outcome": "fell_back"},
        {"text": "i want a person", "intent": "human_handoff", "count": 1, "outcome": "handed_off"}]


def test_agent_and_team_filters_narrow_the_agents_kpis_only(db: Engine) -> None:
    dana = kpi_report(db, KpiFilter(NOV2, NOV4, agent="dana"))
    assert dana["queue_wait"] == {"p50": 120.0, "p90": 120.0, "count": 1}
    assert dana["first_reply"] == {"p50": 60.0, "p90": 60.0, "count": 1}
    assert dana["handling_time"] == {"p50": 420.0, "p90": 420.0, "avg": 420.0, "count": 1}
    assert dana["csat"]["avg"] == 4.0 and dana["csat"]["by_source"]["bot"]["count"] == 0
    # The bot's KPIs do not depend on the agent.
    assert dana["containment"] == {"rate": pytest.approx(2 / 7), "contained": 2, "contacts": 7}
    orders = kpi_report(db, KpiFilter(NOV2, NOV4, team="orders"))
    # B1 120 and C1 180: nearest rank p50 = 1st of 2, p90 = 2nd (ceil 1.8).
    assert orders["queue_wait"] == {"p50": 120.0, "p90": 180.0, "count": 2}
    assert orders["handling_time"] == {"p50": 420.0, "p90": 960.0, "avg": 690.0, "count": 2}


def test_breakdown_per_channel(db: Engine) -> None:
    rows = {r["group"]: r for r in kpi_breakdown(db, WHOLE, "channel")}
    assert list(rows) == ["rest", "telegram", "web", "whatsapp"]
    # The REST turn had no contact id: a turn, no contact.
    assert rows["rest"] == {"group": "rest", "contacts": 0, "containment": None, "handoff_rate": None,
                            "fallback_rate": 0.0, "csat_avg": None, "csat_count": 0, "queue_wait_p50": None,
                            "handling_time_avg": None}
    assert rows["telegram"] == {"group": "telegram", "contacts": 1, "containment": 0.0, "handoff_rate": 1.0,
                                "fallback_rate": 0.0, "csat_avg": None, "csat_count": 0, "queue_wait_p50": None,
                                "handling_time_avg": None}
    # Web: contacts A1 C1 D1 D2, contained A1 D2, queued C1; CSAT 5, 2, 3; C1 waited 180, handled 960.
    assert rows["web"] == {"group": "web", "contacts": 4, "containment": 0.5, "handoff_rate": 0.25,
                           "fallback_rate": pytest.approx(3 / 8), "csat_avg": pytest.approx(10 / 3),
                           "csat_count": 3, "queue_wait_p50": 180.0, "handling_time_avg": 960.0}
    # WhatsApp: B1 F1, both queued; B1 turns 2, one fell back; handling (420 + 1680) / 2.
    assert rows["whatsapp"] == {"group": "whatsapp", "contacts": 2, "containment": 0.0, "handoff_rate": 1.0,
                                "fallback_rate": 0.5, "csat_avg": 4.0, "csat_count": 1, "queue_wait_p50": 120.0,
                                "handling_time_avg": 1050.0}


def test_breakdown_per_language_agent_and_team(db: Engine) -> None:
    languages = {r["group"]: r for r in kpi_breakdown(db, WHOLE, "language")}
    # English: A1 C1 E1 (G1 started before), contained A1; Hebrew: B1 D1 D2 F1, contained D2.
    assert (languages["en"]["contacts"], languages["en"]["containment"]) == (3, pytest.approx(1 / 3))
    assert (languages["he"]["contacts"], languages["he"]["containment"]) == (4, 0.25)
    agents = kpi_breakdown(db, WHOLE, "agent")
    # C1's rating names no agent, so it counts for nobody.
    assert agents == [
        {"group": "dana", "contacts": 1, "containment": None, "handoff_rate": None, "fallback_rate": None,
         "csat_avg": 4.0, "csat_count": 1, "queue_wait_p50": 120.0, "handling_time_avg": 420.0},
        {"group": "omer", "contacts": 1, "containment": None, "handoff_rate": None, "fallback_rate": None,
         "csat_avg": None, "csat_count": 0, "queue_wait_p50": 180.0, "handling_time_avg": 960.0},
        {"group": "sarah", "contacts": 1, "containment": None, "handoff_rate": None, "fallback_rate": None,
         "csat_avg": None, "csat_count": 0, "queue_wait_p50": 120.0, "handling_time_avg": 1680.0}]
    teams = {r["group"]: r for r in kpi_breakdown(db, WHOLE, "team")}
    assert teams["orders"] == {"group": "orders", "contacts": 2, "containment": None, "handoff_rate": None,
                               "fallback_rate": None, "csat_avg": 4.0, "csat_count": 1, "queue_wait_p50": 120.0,
                               "handling_time_avg": 690.0}
    assert (teams["billing"]["contacts"], teams["billing"]["handling_time_avg"]) == (1, 1680.0)


def test_greetings_a_few_days_apart_are_not_the_same_problem_coming_back(empty_db: Engine) -> None:
    """Two contacts of one conversation three days apart, each opened with "hi" and closed with "thanks".

    Their topics come from :func:`core.service_events.turn_topic`, as the tracker store records them: the
    small talk has none, so only the real questions (shipping, then returns) are compared, and both contacts
    were resolved. Had the intent been the topic, the second "hi" would count as the first contact's problem
    coming back.
    """
    rows: List[Dict[str, Any]] = []
    first, second = NOV2 + timedelta(hours=9), NOV2 + timedelta(days=3, hours=9)
    for contact, start, question in (("K1", first, "faq/shipping_cost"), ("K2", second, "faq/returns_policy")):
        for n, (intent, key) in enumerate((("greet", ""), ("faq", question), ("thank", ""), ("goodbye", ""))):
            rows.append({"event_id": f"{len(rows)}-0", "at": start + timedelta(minutes=n), "kind": "turn",
                         "conversation": "web:kim", "contact": contact, "channel": "web", "language": "en",
                         "intent": intent, "confidence": 0.9, "outcome": "answered", "reason": "",
                         "topic": turn_topic(intent, key), "agent": "", "team": "", "value": None, "text": ""})
    with empty_db.begin() as conn:
        conn.execute(service_events.insert(), rows)

    report = kpi_report(empty_db, KpiFilter(NOV2, NOV2 + timedelta(days=7)))

    assert report["fcr"] == {"rate": 1.0, "resolved": 2, "contacts": 2}
    # The same question three days later is a return, greetings or not.
    with empty_db.begin() as conn:
        conn.execute(service_events.insert(), [{**rows[1], "event_id": "again-0", "contact": "K3",
                                                "at": second + timedelta(hours=2)}])
    assert kpi_report(empty_db, KpiFilter(NOV2, NOV2 + timedelta(days=2)))["fcr"] == {
        "rate": 0.0, "resolved": 0, "contacts": 1}


def test_a_conversation_that_lapsed_in_the_queue_weeks_later_counts_where_it_was_queued(empty_db: Engine) -> None:
    rows: List[Dict[str, Any]] = []

    def ev(contact: str, at: datetime, kind: str, **fields: Any) -> None:
        rows.append({"event_id": f"{len(rows)}-0", "at": at, "kind": kind, "conversation": f"web:{contact}",
                     "contact": contact, "channel": "web", "language": "en", "intent": "", "confidence": None,
                     "outcome": "", "reason": "", "topic": "", "agent": "", "team": "", "value": None, "text": "",
                     **fields})

    queued_at = NOV2 + timedelta(hours=20)
    # Q1 waited with nobody to take it; the assigner timed it out 29 days later (the retention, less a day).
    ev("Q1", queued_at, "handoff_queued", reason="asked_for_human")
    ev("Q1", queued_at + timedelta(days=29), "abandoned", reason="timed_out", value=29 * 86400.0)
    # Q2 was taken; Q3's record expired before any handoff service saw it lapse: its event knows no contact.
    ev("Q2", queued_at, "handoff_queued", reason="asked_for_human")
    ev("Q2", queued_at + timedelta(minutes=2), "handoff_assigned", agent="dana", value=120.0)
    ev("Q3", queued_at, "handoff_queued", reason="asked_for_human")
    rows.append({**rows[-1], "event_id": "expired-0", "kind": "abandoned", "contact": "", "language": "",
                 "reason": "expired", "at": queued_at + timedelta(days=31)})
    with empty_db.begin() as conn:
        conn.execute(service_events.insert(), rows)

    assert kpi_report(empty_db, WHOLE)["abandonment"] == {"rate": pytest.approx(1 / 3), "abandoned": 1, "queued": 3}
    # The time-out is counted on the day Q1 was queued, not on the day it was recorded.
    assert kpi_report(empty_db, KpiFilter(datetime(2026, 12, 1), datetime(2026, 12, 3)))["abandonment"] == {
        "rate": None, "abandoned": 0, "queued": 0}


@pytest.mark.parametrize("flt", [KpiFilter(datetime(2026, 11, 20), datetime(2026, 11, 21)),
                                 KpiFilter(NOV2, NOV4, channel="fax")], ids=["empty period", "no such channel"])
def test_nothing_to_count_gives_none_not_an_error(db: Engine, flt: KpiFilter) -> None:
    report = kpi_report(db, flt)
    assert report["containment"] == {"rate": None, "contained": 0, "contacts": 0}
    assert report["handoff_rate"] == {"rate": None, "handoffs": 0, "contacts": 0, "by_reason": []}
    assert report["queue_wait"] == report["first_reply"] == {"p50": None, "p90": None, "count": 0}
    assert report["handling_time"] == {"p50": None, "p90": None, "avg": None, "count": 0}
    assert report["fcr"] == {"rate": None, "resolved": 0, "contacts": 0}
    assert report["abandonment"] == {"rate": None, "abandoned": 0, "queued": 0}
    assert report["csat"]["avg"] is None and report["csat"]["by_source"]["agent"] == {
        "avg": None, "count": 0, "distribution": {"1": 0, "2": 0, "3": 0, "4": 0, "5": 0}}
    assert report["fallback_rate"] == {"rate": None, "fallbacks": 0, "turns": 0}
    assert report["top_unanswered"] == []
    assert all(d["turns"] == 0 and d["csat_avg"] is None for d in report["daily"])
    assert kpi_breakdown(db, flt, "channel") == []


def test_an_empty_event_log(empty_db: Engine) -> None:
    report = kpi_report(empty_db, WHOLE)
    assert report["containment"]["rate"] is None and report["daily"][0]["contacts"] == 0
    assert kpi_breakdown(empty_db, WHOLE, "agent") == []


def test_bad_requests_are_refused_with_a_reason(empty_db: Engine) -> None:
    with pytest.raises(InvalidInput, match="after its start"):
        KpiFilter(NOV3, NOV2)
    with pytest.raises(InvalidInput, match="channel, language, agent, team"):
        kpi_breakdown(empty_db, WHOLE, "colour")
