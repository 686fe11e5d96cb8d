"""The KPIs of ``docs/kpis.md``, each computed by one SQL query over ``service_events``.

The same SQLAlchemy Core code runs on SQLite and PostgreSQL. Percentiles use the
nearest-rank definition through window functions, which both databases have; the only
dialect-specific expressions are "within 7 days" (:func:`_within`) and the time condition
that keeps SQLite on the contact-ordered index (:class:`_ByContact`).

Two kinds of KPI:

* **per contact** (containment, abandonment, first-contact resolution, the contacts
  behind every rate): a contact counts in the period its first turn (or its first
  queueing, if that came first) falls in; events up to :data:`HORIZON` before and after
  the period are read so a contact that straddles the period's edge is counted once, whole.
* **per event** (handoffs, fallback rate, waits, handling time, CSAT, the top unanswered
  questions): an event counts in the period it happened in.

The filters' channel and language apply to every KPI; agent and team apply only to the
agents' KPIs (queue wait, first reply, handling time, CSAT given for an agent): the bot's
KPIs do not depend on them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence

from sqlalchemy import DateTime, and_, case, func, literal, or_, select
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

from analytics.tables import service_events
from core.errors import InvalidInput
from core.service_events import EventKind, TurnOutcome

__all__ = ["BREAKDOWNS", "HORIZON", "KPI_NAMES", "QUERIES", "REPEAT_WINDOW", "TOP_UNANSWERED", "KpiFilter",
           "kpi_breakdown", "kpi_report"]

HORIZON = timedelta(days=1)
"""How far before and after the period a contact's events are read (a longer contact is cut there)."""

REPEAT_WINDOW = timedelta(days=7)
"""A contact is not resolved at first contact if the conversation comes back on its topic within this."""

TOP_UNANSWERED = 20

BREAKDOWNS = ("channel", "language", "agent", "team")

KPI_NAMES: Dict[str, str] = {
    "containment": "Share of contacts the bot resolved alone: no handoff, and its last answer was a real answer.",
    "handoff_rate": "Share of contacts handed to a person (queued for an agent), overall and by trigger.",
    "queue_wait": "Seconds a handed-off conversation waited in the queue until an agent took it (p50, p90).",
    "first_reply": "Seconds from an agent taking a conversation to the agent's first message (p50, p90).",
    "handling_time": "Seconds from an agent taking a conversation to closing it (p50, p90, average).",
    "fcr": "Share of contacts with a topic whose conversation did not come back on that topic within 7 days.",
    "abandonment": "Share of queued contacts where the customer left before an agent took the conversation.",
    "csat": "Average satisfaction rating (1-5), its distribution, split by bot-only and agent conversations.",
    "fallback_rate": "Share of customer messages the bot did not understand (fell back).",
    "top_unanswered": "The 20 most frequent questions behind fallbacks and handoffs (masked, case and spaces "
                      "normalised), with the intent the bot saw.",
    "daily": "Per day: turns, contacts, contained contacts, handoffs, fallbacks and average CSAT.",
}

_T = service_events.c
_TURN = EventKind.TURN.value
_QUEUED = EventKind.HANDOFF_QUEUED.value
_GROUP_COLUMNS = {"channel": _T.channel, "language": _T.language, "agent": _T.agent, "team": _T.team}


@dataclass(frozen=True)
class KpiFilter:
    """Which events the KPIs read: the period ``[start, end)`` in naive UTC and optional exact matches.

    An aware ``start``/``end`` is converted to naive UTC. ``agent`` and ``team`` narrow only the
    agents' KPIs (queue wait, first reply, handling time, CSAT for agents).

    Raises:
        InvalidInput: ``end`` is not after ``start``.
    """

    start: datetime
    end: datetime
    channel: str = ""
    language: str = ""
    agent: str = ""
    team: str = ""

    def __post_init__(self) -> None:
        for name in ("start", "end"):
            value: datetime = getattr(self, name)
            if value.tzinfo is not None:
                object.__setattr__(self, name, value.astimezone(UTC).replace(tzinfo=None))
        if self.end <= self.start:
            raise InvalidInput(f"the period's end ({self.end:%Y-%m-%d %H:%M}) must be after its start "
                               f"({self.start:%Y-%m-%d %H:%M})")


# --- building blocks ---------------------------------------------------------------------------------------------


def _rate(part: Optional[float], whole: Optional[float]) -> Optional[float]:
    return None if not whole else float(part or 0) / float(whole)


def _day(expr: Any) -> ColumnElement[Any]:
    # date() is a function on SQLite (text) and a cast on PostgreSQL (a date): both read back via _day_key.
    return func.date(expr)


def _day_key(value: Any) -> str:
    return value.isoformat()[:10] if isinstance(value, (date, datetime)) else str(value)[:10]


def _within(dialect: str, later: Any, earlier: Any, window: timedelta) -> ColumnElement[bool]:
    """``later - earlier <= window``, for two timestamp columns."""
    if dialect == "sqlite":
        return func.julianday(later) - func.julianday(earlier) <= window.total_seconds() / 86400
    return later <= earlier + window


class _ByContact(FunctionElement):
    """The event's time, in a form SQLite's planner does not look up in an index.

    Grouping by contact reads the contact-ordered index as a stream; offered an index on the time
    instead, SQLite would read the period's rows in time order and sort them all by contact, several
    times slower. ``+x`` is a no-op to SQLite; PostgreSQL plans by statistics and gets the plain column.
    """

    type = DateTime()
    name = "by_contact"
    inherit_cache = True


@compiles(_ByContact)
def _by_contact_plain(element: _ByContact, compiler: SQLCompiler, **kw: Any) -> str:
    return str(compiler.process(element.clauses, **kw))


@compiles(_ByContact, "sqlite")
def _by_contact_sqlite(element: _ByContact, compiler: SQLCompiler, **kw: Any) -> str:
    return "+" + str(compiler.process(element.clauses, **kw))


def _around(flt: KpiFilter, after: timedelta = HORIZON) -> List[ColumnElement[bool]]:
    """The period widened by :data:`HORIZON` before and ``after`` after, for queries grouped by contact."""
    at = _ByContact(_T.at)
    return [at >= flt.start - HORIZON, at < flt.end + after]


def _period(flt: KpiFilter) -> List[ColumnElement[bool]]:
    return [_T.at >= flt.start, _T.at < flt.end]


def _scope(flt: KpiFilter, *, agents: bool = False) -> List[ColumnElement[bool]]:
    """The channel and language filters; with ``agents`` also the agent and team ones."""
    out = []
    if flt.channel:
        out.append(_T.channel == flt.channel)
    if flt.language:
        out.append(_T.language == flt.language)
    if agents and flt.agent:
        out.append(_T.agent == flt.agent)
    if agents and flt.team:
        out.append(_T.team == flt.team)
    return out


def _group(by: Optional[str]) -> Optional[ColumnElement[Any]]:
    """The column an event-level KPI is grouped by: a breakdown's column, the event's day, or none."""
    if by is None:
        return None
    if by == "day":
        return _day(_T.at)
    return _GROUP_COLUMNS[by]


def _keyed(stmt: Select, key: Optional[ColumnElement[Any]]) -> Select:
    """Adds ``key`` as the column ``grp`` and groups by it (no key: one row, ``grp`` empty)."""
    if key is None:
        return stmt.add_columns(literal("").label("grp"))
    return stmt.add_columns(key.label("grp")).group_by(key)


def _rows(conn: Connection, stmt: Select, day: bool = False) -> Dict[str, Any]:
    out = {}
    for row in conn.execute(stmt).mappings():
        grp = row["grp"]
        out[_day_key(grp) if day else ("" if grp is None else str(grp))] = row
    return out


# --- per contact: containment, handoffs, abandonment, first-contact resolution ------------------------------------


def _contact_counts(conn: Connection, flt: KpiFilter, by: Optional[str] = None) -> Dict[str, Any]:
    """Per group: the contacts that started in the period and those the bot contained. One query.

    Per contact, its turns (first, last, last answered) are joined with its queueing, if any; a contact
    queued without a turn is a contact too (the second half of the union: SQLite has no fast full join).
    ``by`` channel or language adds that column to the contact's key (a contact on two channels counts under
    each, with the events it had there).
    """
    column = _GROUP_COLUMNS[by] if by in ("channel", "language") else None
    keys: List[Any] = [_T.contact] + ([column] if column is not None else [])
    grp = column if column is not None else literal("")
    around = [_T.contact != "", *_around(flt), *_scope(flt)]
    turns = (select(_T.contact, grp.label("grp"), func.min(_T.at).label("first"), func.max(_T.at).label("last"),
                    func.max(case((_T.outcome == TurnOutcome.ANSWERED.value, _T.at))).label("answered"))
             .where(_T.kind == _TURN, *around).group_by(*keys)).cte("turns")
    queued = (select(_T.contact, grp.label("grp"), func.min(_T.at).label("queued"))
              .where(_T.kind == _QUEUED, *around).group_by(*keys)).cte("queued")
    same = and_(turns.c.contact == queued.c.contact, turns.c.grp == queued.c.grp)
    with_turns = select(
        case((queued.c.queued < turns.c.first, queued.c.queued), else_=turns.c.first).label("started"),
        case((and_(queued.c.contact.is_(None), turns.c.answered == turns.c.last), 1), else_=0).label("contained"),
        turns.c.grp,
    ).select_from(turns.outerjoin(queued, same))
    turn_of_queued = [_T.kind == _TURN, _T.contact == queued.c.contact, *_around(flt)]
    if column is not None:
        turn_of_queued.append(column == queued.c.grp)
    without_turns = (select(queued.c.queued.label("started"), literal(0).label("contained"), queued.c.grp)
                     .where(~select(_T.id).where(*turn_of_queued).exists()))
    contacts = with_turns.union_all(without_turns).subquery("contacts")
    key: Optional[ColumnElement[Any]] = None
    if by == "day":
        key = _day(contacts.c.started)
    elif column is not None:
        key = contacts.c.grp
    stmt = (select(func.count().label("contacts"), func.sum(contacts.c.contained).label("contained"))
            .where(contacts.c.started >= flt.start, contacts.c.started < flt.end))
    return _rows(conn, _keyed(stmt, key), day=by == "day")


def _handoffs(conn: Connection, flt: KpiFilter, by: Optional[str] = None) -> Dict[str, Any]:
    """Per group (or trigger, with ``by="reason"``): contacts queued for a person in the period. One query."""
    key = _T.reason if by == "reason" else _group(by)
    stmt = (select(func.count(func.distinct(_T.contact)).label("handoffs"))
            .where(_T.kind == _QUEUED, _T.contact != "", *_period(flt), *_scope(flt)))
    return _rows(conn, _keyed(stmt, key), day=by == "day")


def _abandonment(conn: Connection, flt: KpiFilter) -> Dict[str, Any]:
    """Contacts first queued in the period, and those of them that left the queue unanswered. One query.

    Abandonments are read however long after the period they came: a conversation that lapsed in the queue
    is recorded when the retention has nearly passed (``timed_out``), weeks after its queueing.
    """
    left = EventKind.ABANDONED.value
    first_queued = func.min(case((_T.kind == _QUEUED, _T.at)))
    per_contact = (select(func.max(case((_T.kind == left, 1), else_=0)).label("abandoned"))
                   .where(or_(and_(_T.kind == _QUEUED, _T.at >= flt.start - HORIZON, _T.at < flt.end + HORIZON),
                              and_(_T.kind == left, _T.at >= flt.start - HORIZON)),
                          _T.contact != "", *_scope(flt))
                   .group_by(_T.contact)
                   .having(and_(first_queued >= flt.start, first_queued < flt.end))).subquery()
    row = conn.execute(select(func.count().label("queued"), func.sum(per_contact.c.abandoned).label("abandoned"))
                       ).one()
    queued, abandoned = int(row.queued), int(row.abandoned or 0)
    return {"rate": _rate(abandoned, queued), "abandoned": abandoned, "queued": queued}


def _fcr(conn: Connection, flt: KpiFilter) -> Dict[str, Any]:
    """Contacts with a topic that started in the period, and those whose topics did not come back. One query."""
    scope = _scope(flt)
    # A repeat may come on any channel or in any language: the filters choose only the contacts counted.
    in_scope = func.max(case((and_(*scope), 1), else_=0)) if scope else literal(1)
    pairs = (select(_T.conversation, _T.contact, _T.topic, func.min(_T.at).label("first_at"),
                    in_scope.label("in_scope"))
             .where(_T.kind == _TURN, _T.topic != "", _T.contact != "", *_around(flt, HORIZON + REPEAT_WINDOW))
             .group_by(_T.contact, _T.channel, _T.language, _T.topic, _T.conversation)).cte("pairs")
    later = pairs.alias("later")
    repeated = func.max(case((later.c.contact.is_not(None), 1), else_=0))
    started = func.min(pairs.c.first_at)
    per_contact = (select(repeated.label("repeated"))
                   .select_from(pairs.outerjoin(later, and_(
                       later.c.conversation == pairs.c.conversation, later.c.topic == pairs.c.topic,
                       later.c.contact != pairs.c.contact, later.c.first_at > pairs.c.first_at,
                       _within(conn.dialect.name, later.c.first_at, pairs.c.first_at, REPEAT_WINDOW))))
                   .group_by(pairs.c.contact)
                   .having(and_(started >= flt.start, started < flt.end, func.max(pairs.c.in_scope) == 1))
                   ).subquery()
    row = conn.execute(select(func.count().label("contacts"),
                              func.sum(1 - per_contact.c.repeated).label("resolved"))).one()
    contacts, resolved = int(row.contacts), int(row.resolved or 0)
    return {"rate": _rate(resolved, contacts), "resolved": resolved, "contacts": contacts}


# --- per event: fallbacks, waits, CSAT, the top questions ---------------------------------------------------------


def _turn_counts(conn: Connection, flt: KpiFilter, by: Optional[str] = None) -> Dict[str, Any]:
    """Per group: turns and fallbacks. One query."""
    stmt = (select(func.count().label("turns"),
                   func.sum(case((_T.outcome == TurnOutcome.FELL_BACK.value, 1), else_=0)).label("fallbacks"))
            .where(_T.kind == _TURN, *_period(flt), *_scope(flt)))
    return _rows(conn, _keyed(stmt, _group(by)), day=by == "day")


def _percentiles(conn: Connection, flt: KpiFilter, kind: EventKind, by: Optional[str] = None,
                 where: Sequence[ColumnElement[bool]] = ()) -> Dict[str, Any]:
    """Per group: nearest-rank p50 and p90, average and count of ``value`` of the events of ``kind``. One query."""
    key = _group(by)
    partition = {"partition_by": key} if key is not None else {}
    ranked = (select(_T.value.label("v"),
                     func.row_number().over(order_by=_T.value, **partition).label("rn"),
                     func.count().over(**partition).label("n"),
                     (key if key is not None else literal("")).label("grp"))
              .where(_T.kind == kind.value, _T.value.is_not(None), *_period(flt), *_scope(flt, agents=True), *where)
              ).subquery()
    stmt = select(func.min(case((ranked.c.rn >= 0.5 * ranked.c.n, ranked.c.v))).label("p50"),
                  func.min(case((ranked.c.rn >= 0.9 * ranked.c.n, ranked.c.v))).label("p90"),
                  func.avg(ranked.c.v).label("avg"), func.count().label("count"))
    return _rows(conn, _keyed(stmt, ranked.c.grp if key is not None else None), day=by == "day")


def _spread(row: Optional[Any], with_avg: bool = False) -> Dict[str, Any]:
    count = int(row["count"]) if row is not None else 0
    out: Dict[str, Any] = {"p50": None, "p90": None}
    if with_avg:
        out["avg"] = None
    if row is not None and count:
        out = {"p50": float(row["p50"]), "p90": float(row["p90"])}
        if with_avg:
            out["avg"] = float(row["avg"])
    out["count"] = count
    return out


def _csat_rows(conn: Connection, flt: KpiFilter, by: Optional[str] = None) -> Dict[str, Dict[str, Any]]:
    """Per group: CSAT count, average, distribution and split by source. One query."""
    key = _group(by)
    agent_rated = or_(_T.reason == "agent", _T.agent != "")
    where: List[ColumnElement[bool]] = [_T.kind == EventKind.CSAT.value, _T.value >= 1, _T.value <= 5,
                                        *_period(flt), *_scope(flt)]
    if flt.agent or flt.team:
        where.append(agent_rated)
    if flt.agent:
        where.append(_T.agent == flt.agent)
    if flt.team:
        where.append(_T.team == flt.team)
    rated = select(case((agent_rated, "agent"), else_="bot").label("source"), func.round(_T.value).label("score"),
                   (key if key is not None else literal("")).label("grp")).where(*where).subquery()
    stmt = (select(rated.c.grp, rated.c.source, rated.c.score, func.count().label("n"))
            .group_by(rated.c.grp, rated.c.source, rated.c.score))
    out: Dict[str, Dict[str, Any]] = {}
    for row in conn.execute(stmt):
        grp = _day_key(row.grp) if by == "day" else str(row.grp or "")
        entry = out.setdefault(grp, {"sum": 0.0, "count": 0, "distribution": {str(s): 0 for s in range(1, 6)},
                                     "by_source": {s: _empty_source() for s in ("bot", "agent")}})
        score, n = int(row.score), int(row.n)
        entry["sum"] += score * n
        entry["count"] += n
        entry["distribution"][str(score)] += n
        entry["by_source"][row.source]["sum"] += score * n
        entry["by_source"][row.source]["count"] += n
        entry["by_source"][row.source]["distribution"][str(score)] += n
    return out


def _empty_source() -> Dict[str, Any]:
    return {"sum": 0.0, "count": 0, "distribution": {str(s): 0 for s in range(1, 6)}}


def _csat(entry: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    def avg(part: Dict[str, Any]) -> Dict[str, Any]:
        return {"avg": _rate(part["sum"], part["count"]), "count": part["count"],
                "distribution": dict(part["distribution"])}

    if entry is None:
        entry = {**_empty_source(), "by_source": {s: _empty_source() for s in ("bot", "agent")}}
    return {**avg(entry), "by_source": {s: avg(entry["by_source"][s]) for s in ("bot", "agent")}}


def _normalised_text() -> ColumnElement[str]:
    """The masked text in lower case, line breaks and tabs as spaces, runs of up to 16 spaces as one, trimmed."""
    text: ColumnElement[str] = _T.text
    for blank in ("\r", "\n", "\t"):
        text = func.replace(text, blank, " ")
    for _ in range(4):
        text = func.replace(text, "  ", " ")
    return func.lower(func.trim(text))


def _top_unanswered(conn: Connection, flt: KpiFilter) -> List[Dict[str, Any]]:
    """The most frequent normalised texts of turns that fell back or were handed off. One query."""
    asked = (select(_normalised_text().label("q"), _T.intent, _T.outcome)
             .where(_T.kind == _TURN, _T.outcome.in_([TurnOutcome.FELL_BACK.value, TurnOutcome.HANDED_OFF.value]),
                    _T.text != "", *_period(flt), *_scope(flt))).subquery()
    count = func.count().label("count")
    stmt = (select(asked.c.q, func.max(asked.c.intent).label("intent"), func.max(asked.c.outcome).label("outcome"),
                   count)
            .where(asked.c.q != "")
            .group_by(asked.c.q)
            .order_by(count.desc(), asked.c.q)
            .limit(TOP_UNANSWERED))
    return [{"text": r.q, "intent": r.intent, "count": int(r.count), "outcome": r.outcome}
            for r in conn.execute(stmt)]


def _handled_contacts(conn: Connection, flt: KpiFilter, by: str) -> Dict[str, Any]:
    """Per agent or team: the contacts it was given (assigned or transferred to) in the period. One query."""
    stmt = (select(func.count(func.distinct(_T.contact)).label("contacts"))
            .where(_T.kind.in_([EventKind.HANDOFF_ASSIGNED.value, EventKind.HANDOFF_TRANSFERRED.value]),
                   _GROUP_COLUMNS[by] != "", _T.contact != "", *_period(flt), *_scope(flt, agents=True)))
    return _rows(conn, _keyed(stmt, _GROUP_COLUMNS[by]))


# --- the report ---------------------------------------------------------------------------------------------------


def _days(flt: KpiFilter) -> List[str]:
    first, last = flt.start.date(), (flt.end - timedelta(microseconds=1)).date()
    return [(first + timedelta(days=i)).isoformat() for i in range((last - first).days + 1)]


def kpi_report(engine: Engine, flt: KpiFilter) -> Dict[str, Any]:
    """Every KPI of ``KPI_NAMES`` for the filter, as JSON-able values (rates 0-1, times in seconds).

    Blocking: call it from a worker thread in async code. A rate whose denominator is 0 is None.

    Args:
        engine: The event log's database.
        flt: The period and filters.

    Returns:
        One entry per key of :data:`KPI_NAMES`, shaped as ``docs/kpis.md`` describes.
    """
    with engine.connect() as conn:
        # The per-day queries give the totals too (each contact, turn and rating has one day): summed below.
        per_day = {"contacts": _contact_counts(conn, flt, "day"), "handoffs": _handoffs(conn, flt, "day"),
                   "turns": _turn_counts(conn, flt, "day"), "csat": _csat_rows(conn, flt, "day")}
        handoffs = _handoffs(conn, flt).get("")
        reasons = _handoffs(conn, flt, "reason")
        report: Dict[str, Any] = {
            "containment": None,
            "handoff_rate": None,
            "queue_wait": _spread(_percentiles(conn, flt, EventKind.HANDOFF_ASSIGNED).get("")),
            "first_reply": _spread(_percentiles(conn, flt, EventKind.AGENT_MESSAGE, where=[_T.reason == "first"])
                                   .get("")),
            "handling_time": _spread(_percentiles(conn, flt, EventKind.CLOSED).get(""), with_avg=True),
            "fcr": _fcr(conn, flt),
            "abandonment": _abandonment(conn, flt),
            "csat": _csat(_csat_total(per_day["csat"].values())),
            "fallback_rate": None,
            "top_unanswered": _top_unanswered(conn, flt),
            "daily": _daily(flt, per_day),
        }
    n_contacts = sum(int(r["contacts"]) for r in per_day["contacts"].values())
    contained = sum(int(r["contained"] or 0) for r in per_day["contacts"].values())
    n_handoffs = int(handoffs["handoffs"]) if handoffs else 0
    n_turns = sum(int(r["turns"]) for r in per_day["turns"].values())
    fallbacks = sum(int(r["fallbacks"] or 0) for r in per_day["turns"].values())
    report["containment"] = {"rate": _rate(contained, n_contacts), "contained": contained, "contacts": n_contacts}
    report["handoff_rate"] = {
        "rate": _rate(n_handoffs, n_contacts), "handoffs": n_handoffs, "contacts": n_contacts,
        "by_reason": [{"reason": reason, "count": int(r["handoffs"]), "rate": _rate(r["handoffs"], n_contacts)}
                      for reason, r in sorted(reasons.items(), key=lambda kv: (-kv[1]["handoffs"], kv[0]))]}
    report["fallback_rate"] = {"rate": _rate(fallbacks, n_turns), "fallbacks": fallbacks, "turns": n_turns}
    return report


def _csat_total(entries: Iterable[Dict[str, Any]]) -> Optional[Dict[str, Any]]:
    """The sum of several groups' CSAT entries (of :func:`_csat_rows`); None if there are none."""
    total: Optional[Dict[str, Any]] = None
    for entry in entries:
        if total is None:
            total = {"sum": 0.0, "count": 0, "distribution": {str(s): 0 for s in range(1, 6)},
                     "by_source": {s: _empty_source() for s in ("bot", "agent")}}
        total["sum"] += entry["sum"]
        total["count"] += entry["count"]
        for score, n in entry["distribution"].items():
            total["distribution"][score] += n
        for source, part in entry["by_source"].items():
            total["by_source"][source]["sum"] += part["sum"]
            total["by_source"][source]["count"] += part["count"]
            for score, n in part["distribution"].items():
                total["by_source"][source]["distribution"][score] += n
    return total


def _daily(flt: KpiFilter, per_day: Dict[str, Dict[str, Any]]) -> List[Dict[str, Any]]:
    out = []
    for day in _days(flt):
        c, h = per_day["contacts"].get(day), per_day["handoffs"].get(day)
        t, s = per_day["turns"].get(day), per_day["csat"].get(day)
        out.append({"day": day, "turns": int(t["turns"]) if t else 0,
                    "contacts": int(c["contacts"]) if c else 0, "contained": int(c["contained"] or 0) if c else 0,
                    "handoffs": int(h["handoffs"]) if h else 0, "fallbacks": int(t["fallbacks"] or 0) if t else 0,
                    "csat_avg": _rate(s["sum"], s["count"]) if s else None})
    return out


def kpi_breakdown(engine: Engine, flt: KpiFilter, by: str) -> List[Dict[str, Any]]:
    """The main KPIs per channel, language, agent or team, one row per group seen in the period.

    For ``agent`` and ``team``, ``contacts`` is the contacts given to that agent or team and the bot's KPIs
    (containment, handoff and fallback rate) are None. Events without a value for ``by`` are left out.

    Args:
        engine: The event log's database.
        flt: The period and filters.
        by: ``channel``, ``language``, ``agent`` or ``team``.

    Returns:
        Rows ``{"group", "contacts", "containment", "handoff_rate", "fallback_rate", "csat_avg", "csat_count",
        "queue_wait_p50", "handling_time_avg"}``, sorted by group.

    Raises:
        InvalidInput: ``by`` is none of those.
    """
    if by not in BREAKDOWNS:
        raise InvalidInput(f"a breakdown is by one of {', '.join(BREAKDOWNS)}, not {by!r}")
    bot_side = by in ("channel", "language")
    with engine.connect() as conn:
        contacts = _contact_counts(conn, flt, by) if bot_side else _handled_contacts(conn, flt, by)
        handoffs = _handoffs(conn, flt, by) if bot_side else {}
        turns = _turn_counts(conn, flt, by) if bot_side else {}
        csat = _csat_rows(conn, flt, by)
        waits = _percentiles(conn, flt, EventKind.HANDOFF_ASSIGNED, by)
        handling = _percentiles(conn, flt, EventKind.CLOSED, by)
    rows = []
    for group in sorted(set(contacts) | set(turns) | set(csat) | set(waits) | set(handling)):
        if not group:
            continue
        c, h, t, s = contacts.get(group), handoffs.get(group), turns.get(group), csat.get(group)
        n = int(c["contacts"]) if c else 0
        rows.append({
            "group": group,
            "contacts": n,
            "containment": _rate(c["contained"], n) if bot_side and c else None,
            "handoff_rate": _rate(h["handoffs"] if h else 0, n) if bot_side and c else None,
            "fallback_rate": _rate(t["fallbacks"], t["turns"]) if t else None,
            "csat_avg": _rate(s["sum"], s["count"]) if s else None,
            "csat_count": s["count"] if s else 0,
            "queue_wait_p50": _spread(waits.get(group))["p50"],
            "handling_time_avg": _spread(handling.get(group), with_avg=True)["avg"],
        })
    return rows


QUERIES: Dict[str, Callable[[Connection, KpiFilter], Any]] = {
    "contacts, containment (per day)": lambda conn, flt: _contact_counts(conn, flt, "day"),
    "handoffs": lambda conn, flt: _handoffs(conn, flt),
    "handoffs by reason": lambda conn, flt: _handoffs(conn, flt, "reason"),
    "handoffs per day": lambda conn, flt: _handoffs(conn, flt, "day"),
    "abandonment": _abandonment,
    "queue wait": lambda conn, flt: _percentiles(conn, flt, EventKind.HANDOFF_ASSIGNED),
    "first reply": lambda conn, flt: _percentiles(conn, flt, EventKind.AGENT_MESSAGE, where=[_T.reason == "first"]),
    "handling time": lambda conn, flt: _percentiles(conn, flt, EventKind.CLOSED),
    "first-contact resolution": _fcr,
    "csat (per day)": lambda conn, flt: _csat_rows(conn, flt, "day"),
    "turns, fallbacks (per day)": lambda conn, flt: _turn_counts(conn, flt, "day"),
    "top unanswered": _top_unanswered,
    "by channel: contacts": lambda conn, flt: _contact_counts(conn, flt, "channel"),
    "by language: contacts": lambda conn, flt: _contact_counts(conn, flt, "language"),
    "by channel: handoffs": lambda conn, flt: _handoffs(conn, flt, "channel"),
    "by language: turns": lambda conn, flt: _turn_counts(conn, flt, "language"),
    "by language: csat": lambda conn, flt: _csat_rows(conn, flt, "language"),
    "by channel: queue wait": lambda conn, flt: _percentiles(conn, flt, EventKind.HANDOFF_ASSIGNED, "channel"),
    "by agent: contacts": lambda conn, flt: _handled_contacts(conn, flt, "agent"),
    "by agent: csat": lambda conn, flt: _csat_rows(conn, flt, "agent"),
    "by team: queue wait": lambda conn, flt: _percentiles(conn, flt, EventKind.HANDOFF_ASSIGNED, "team"),
    "by agent: handling time": lambda conn, flt: _percentiles(conn, flt, EventKind.CLOSED, "agent"),
}
"""Every distinct query :func:`kpi_report` and :func:`kpi_breakdown` run, by name (``bench/kpis.py`` times each)."""
