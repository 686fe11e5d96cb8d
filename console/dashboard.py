"""The manager's dashboard: the KPIs of the event log, charted, with their numbers, filters and exports.

``GET /console/dashboard`` shows, for a period (today, the last 7 or 30 days, or
the days from–to, inclusive, in UTC), a channel and a language, every KPI of
:mod:`analytics.kpis` as a chart (Chart.js, served by the console itself from
``console/static/vendor/chartjs``) with its number and the count behind it
beside it, the daily series, the questions the bot could not answer (each a
link to the writers' page of unanswered questions) and the breakdowns by
channel, language, agent and team. The filters live in the URL, so a view can
be bookmarked or shared.

``GET /console/dashboard/report.csv`` and ``/console/dashboard/breakdown.csv?by=...``
export the same numbers (UTF-8 with a byte-order mark, so Excel opens Hebrew
right); ``GET /console/api/dashboard`` answers them as JSON.

Managers and supervisors see it (``ROLES``); anyone else gets 403. The KPI
queries block, so they run in the dashboard's own worker threads, never on the
event loop, the report and the breakdowns side by side; a view's figures are
kept for a minute (:class:`KpiReader`), so its CSV right after the page costs
nothing. A filter that cannot be read is a 400 that says which.
"""

from __future__ import annotations

import asyncio
import csv
import functools
import io
import logging
import re
import time as time_module
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, Callable, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import urlencode

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, json, raw
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from analytics.engine import create_tables
from analytics.kpis import BREAKDOWNS, KPI_NAMES, KpiFilter, kpi_breakdown, kpi_report
from console.auth import require_role
from console.context import state
from console.middleware import load_session, security_headers
from console.web import named, render, text_direction, ui_language
from core import channels
from core.errors import InvalidInput, Unavailable
from core.language import is_language

__all__ = [
    "BREAKDOWNS",
    "BREAKDOWN_COLUMNS",
    "CARDS",
    "CHANNELS",
    "MAX_DAYS",
    "PERIODS",
    "ROLES",
    "DashboardView",
    "KpiReader",
    "bp",
    "csv_bytes",
    "kpi_order",
    "parse_view",
    "setup_dashboard",
]

log = logging.getLogger(__name__)

bp = Blueprint("console_dashboard", url_prefix="/console", strict_slashes=False)
bp.on_request(load_session)
bp.on_response(security_headers)

# Supervisors lead the agents day to day and see the same numbers as the managers above them.
ROLES = ("manager", "supervisor")
PERIODS = ("today", "7d", "30d", "custom")
DEFAULT_PERIOD = "7d"
CHANNELS = channels.CHANNELS  # the names events carry (each connector answers its own from core.channels)
MAX_DAYS = 366
FIRST_YEAR, LAST_YEAR = 2000, 2999
CHART_JS = "vendor/chartjs/chart.umd.min.js"
QUERY_THREADS = 2  # this machine's cores: the report and the breakdowns read side by side
KEEP_SECONDS = 60.0
KEPT_ANSWERS = 64
# The KPIs drawn as a card: a chart and its numbers (each has console_kpi_<name> and its _help text).
CARDS = ("containment", "handoff_rate", "queue_wait", "first_reply", "handling_time", "fcr", "abandonment",
         "csat", "fallback_rate")
_DAYS = {"today": 1, "7d": 7, "30d": 30}
_ISO_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_BOM = "\ufeff"
# A spreadsheet runs a cell that starts with one of these as a formula; customers' words must not.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
# Columns of a breakdown, in order, and how each is shown.
BREAKDOWN_COLUMNS: Tuple[Tuple[str, str], ...] = (
    ("contacts", "count"),
    ("containment", "rate"),
    ("handoff_rate", "rate"),
    ("fallback_rate", "rate"),
    ("csat_avg", "score"),
    ("csat_count", "count"),
    ("queue_wait_p50", "seconds"),
    ("handling_time_avg", "seconds"),
)


def kpi_order() -> List[str]:
    """The KPIs in :data:`analytics.kpis.KPI_NAMES`'s display order."""
    return list(KPI_NAMES)


# -- the view: period and filters, from the URL -------------------------------------------------
@dataclass(frozen=True)
class DashboardView:
    """What the dashboard shows: a period of whole UTC days and the filters.

    Attributes:
        period: ``today``, ``7d``, ``30d`` or ``custom``.
        first: The first day shown.
        last: The last day shown (inclusive).
        channel: Only this channel ("" for all).
        language: Only this language ("" for both).
    """

    period: str
    first: date
    last: date
    channel: str = ""
    language: str = ""

    def kpi_filter(self) -> KpiFilter:
        """The filter of the KPI queries: from the first day's midnight to the midnight after the last (UTC)."""
        start = datetime.combine(self.first, time.min)
        end = datetime.combine(self.last + timedelta(days=1), time.min)
        return KpiFilter(start=start, end=end, channel=self.channel, language=self.language)

    def params(self, **changes: str) -> Dict[str, str]:
        """The URL parameters that show this view (``from``/``to`` only for a custom period), changed."""
        values = {"period": self.period}
        if self.period == "custom":
            values.update({"from": self.first.isoformat(), "to": self.last.isoformat()})
        values.update({"channel": self.channel, "language": self.language})
        values.update(changes)
        return {k: v for k, v in values.items() if v}

    def query(self, **changes: str) -> str:
        """The URL query string of :meth:`params`."""
        return urlencode(self.params(**changes))

    @property
    def file_stem(self) -> str:
        """The period as a file name part: ``2026-03-01_2026-03-07``."""
        return f"{self.first.isoformat()}_{self.last.isoformat()}"


def _day(value: str, name: str) -> date:
    if not _ISO_DAY.match(value):
        raise InvalidInput(f"{name} must be a date like 2026-03-31, not {value[:40]!r}",
                           text="console_dash_error_date", field=name, value=value[:40])
    try:
        day = date.fromisoformat(value)
    except ValueError:
        raise InvalidInput(f"{name} must be a date like 2026-03-31, not {value[:40]!r}",
                           text="console_dash_error_date", field=name, value=value[:40]) from None
    # The queries read a day around the period; year 1 or 9999 would overflow the date arithmetic.
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidInput(f"{name} must be between {FIRST_YEAR} and {LAST_YEAR}", text="console_dash_error_year",
                           field=name, first=str(FIRST_YEAR), last=str(LAST_YEAR))
    return day


def parse_view(args: Mapping[str, str], today: date) -> DashboardView:
    """Reads the dashboard's URL parameters.

    ``period`` is ``today``, ``7d`` (the default), ``30d`` or ``custom`` (which needs
    ``from`` and ``to``, ISO dates, at most :data:`MAX_DAYS` days); ``from``/``to``
    alone mean ``custom``. ``channel`` is one of :data:`CHANNELS` or empty,
    ``language`` ``he``, ``en`` or empty.

    Args:
        args: The parameters (first value of each).
        today: Today in UTC (the presets end with it).

    Raises:
        InvalidInput: A parameter cannot be read; the message says which and why.
    """
    first_given, last_given = args.get("from", "").strip(), args.get("to", "").strip()
    period = args.get("period", "").strip() or ("custom" if first_given or last_given else DEFAULT_PERIOD)
    if period not in PERIODS:
        raise InvalidInput(f"period must be one of {', '.join(PERIODS)}, not {period[:40]!r}",
                           text="console_dash_error_period", value=period[:40])
    if period == "custom":
        if not first_given or not last_given:
            raise InvalidInput("a custom period needs both from and to", text="console_dash_error_range_missing")
        first, last = _day(first_given, "from"), _day(last_given, "to")
        if first > last:
            raise InvalidInput("from must not be after to", text="console_dash_error_range_order")
        if (last - first).days + 1 > MAX_DAYS:
            raise InvalidInput(f"a period is at most {MAX_DAYS} days", text="console_dash_error_range_long",
                               days=MAX_DAYS)
    else:
        last = today
        first = today - timedelta(days=_DAYS[period] - 1)
    channel = args.get("channel", "").strip()
    if channel and channel not in CHANNELS:
        raise InvalidInput(f"channel must be one of {', '.join(CHANNELS)}, not {channel[:40]!r}",
                           text="console_dash_error_channel", value=channel[:40])
    language = args.get("language", "").strip()
    if language and not is_language(language):
        raise InvalidInput(f"language must be he or en, not {language[:40]!r}",
                           text="console_dash_error_language", value=language[:40])
    return DashboardView(period, first, last, channel, language)


def _args(request: Request) -> Dict[str, str]:
    return {name: str(values[0]) for name, values in request.args.items() if values}


def _today() -> date:
    return datetime.now(UTC).date()


# -- reading the KPIs (blocking: in a worker thread) ------------------------------------------------
class KpiReader:
    """Reads the KPIs off the event loop: in worker threads of its own, the answers of the last minute kept.

    Its own threads (:data:`QUERY_THREADS`, one per core here) run the report and the breakdowns side by
    side, and a manager's slow view never holds the threads other work of the service needs (password
    checks, the writers' pages). A view asked again within :data:`KEEP_SECONDS` (the CSV of the page just
    seen, a reload) is answered from memory: its figures are at most that old.
    """

    def __init__(self, engine: Engine, *, threads: int = QUERY_THREADS, keep_seconds: float = KEEP_SECONDS,
                 clock: Callable[[], float] = time_module.monotonic) -> None:
        """Starts no thread yet.

        Args:
            engine: The event log's database.
            threads: Queries run at once.
            keep_seconds: How long an answer is reused.
            clock: Seconds, for the answers' age (tests move it).
        """
        self.engine = engine
        self.keep_seconds = keep_seconds
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="kesher-kpis")
        self._kept: OrderedDict[Tuple[Any, ...], Tuple[float, Any]] = OrderedDict()

    async def _answer(self, key: Tuple[Any, ...], read: Callable[[], Any]) -> Any:
        now = self._clock()
        kept = self._kept.get(key)
        if kept is not None and now - kept[0] < self.keep_seconds:
            return kept[1]
        value = await asyncio.get_running_loop().run_in_executor(self._pool, read)
        self._kept[key] = (now, value)
        self._kept.move_to_end(key)
        while len(self._kept) > KEPT_ANSWERS:
            self._kept.popitem(last=False)
        return value

    async def figures(self, flt: KpiFilter,
                      breakdowns: Sequence[str] = BREAKDOWNS) -> Tuple[Dict[str, Any], Dict[str, Any]]:
        """The report and the breakdowns of ``flt``, read side by side.

        Raises:
            sqlalchemy.exc.SQLAlchemyError: The database did not answer.
        """
        engine = self.engine
        report, *parts = await asyncio.gather(
            self._answer(("report", flt), lambda: kpi_report(engine, flt)),
            *(self._answer(("breakdown", flt, by), functools.partial(kpi_breakdown, engine, flt, by))
              for by in breakdowns))
        return report, dict(zip(breakdowns, parts, strict=True))

    def close(self) -> None:
        """Stops the threads (a query in progress finishes; nothing waits for it)."""
        self._pool.shutdown(wait=False, cancel_futures=True)


def _reader(source: Request | Sanic) -> KpiReader:
    app = source.app if isinstance(source, Request) else source
    reader: Optional[KpiReader] = getattr(app.ctx, "kpi_reader", None)
    if reader is None:
        reader = app.ctx.kpi_reader = KpiReader(state(app).events_engine)
    return reader


async def _figures(request: Request, view: DashboardView,
                   breakdowns: Sequence[str] = BREAKDOWNS) -> Tuple[Dict[str, Any], Dict[str, Any]]:
    """The view's report and breakdowns (:class:`KpiReader`).

    Raises:
        Unavailable: The event log's database did not answer.
    """
    try:
        return await _reader(request).figures(view.kpi_filter(), breakdowns)
    except SQLAlchemyError as exc:
        log.warning("the dashboard could not read the event log: %s", exc)
        if not state(request).settings.event_log:
            raise Unavailable("the event log is off (KESHER_EVENT_LOG) and has recorded nothing",
                              text="console_dash_error_log_off") from None
        raise Unavailable("the event log's database does not answer; try again in a minute",
                          text="console_dash_error_database") from None


# -- numbers as people read them ---------------------------------------------------------------------
Say = Callable[..., str]


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def show_rate(value: Any) -> str:
    """A rate as a percentage (``62.5%``), or ``—`` when there was nothing to divide by."""
    if not _number(value):
        return "—"
    percent = float(value) * 100
    return f"{percent:.0f}%" if percent == round(percent) else f"{percent:.1f}%"


def show_score(value: Any) -> str:
    """A CSAT average (``4.3``), or ``—``."""
    return f"{float(value):.1f}" if _number(value) else "—"


def show_count(value: Any) -> str:
    """A count, or ``—``."""
    return str(int(value)) if _number(value) else "—"


def show_seconds(say: Say, value: Any) -> str:
    """A duration in the reader's language: ``45 s``, ``2 min 5 s``, ``1 h 3 min``; or ``—``."""
    if not _number(value):
        return "—"
    seconds = round(float(value))
    if seconds < 60:
        return say("console_dash_seconds", s=seconds)
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return say("console_dash_minutes", m=minutes, s=seconds)
    hours, minutes = divmod(minutes, 60)
    return say("console_dash_hours", h=hours, m=minutes)


def _show(say: Say, kind: str, value: Any) -> str:
    if kind == "rate":
        return show_rate(value)
    if kind == "score":
        return show_score(value)
    if kind == "seconds":
        return show_seconds(say, value)
    return show_count(value)


def _get(report: Mapping[str, Any], kpi: str) -> Dict[str, Any]:
    found = report.get(kpi)
    return dict(found) if isinstance(found, Mapping) else {}


def _nonneg(value: Any) -> float:
    return max(0.0, float(value)) if _number(value) else 0.0


@dataclass(frozen=True)
class Figure:
    """One number beside a chart: its label, the value as shown, and a name tests and scripts find it by."""

    name: str
    label: str
    shown: str
    main: bool = False


@dataclass(frozen=True)
class Card:
    """One KPI: its title and definition, the chart's data and the numbers beside it."""

    kpi: str
    title: str
    definition: str
    figures: List[Figure]
    chart: Dict[str, Any]


def _part_chart(say: Say, part: Any, whole: Any, part_key: str, rest_key: str) -> Dict[str, Any]:
    done = _nonneg(part)
    return {"type": "doughnut", "labels": [say(part_key), say(rest_key)],
            "series": [{"label": "", "data": [done, max(0.0, _nonneg(whole) - done)]}]}


def _seconds_chart(say: Say, values: Mapping[str, Any], measures: Sequence[str]) -> Dict[str, Any]:
    return {"type": "bar", "labels": [say(f"console_dash_measure_{m}") for m in measures],
            "series": [{"label": say("console_dash_axis_seconds"),
                        "data": [float(values[m]) if _number(values.get(m)) else None for m in measures]}],
            "axis": say("console_dash_axis_seconds")}


def _card(say: Say, label: Callable[[str, str], str], kpi: str, report: Mapping[str, Any]) -> Optional[Card]:
    if kpi not in CARDS:
        return None  # the top questions and the daily series have sections of their own
    data = _get(report, kpi)
    title, definition = say(f"console_kpi_{kpi}"), say(f"console_kpi_{kpi}_help")

    def fig(name: str, kind: str, main: bool = False) -> Figure:
        return Figure(name, say(f"console_dash_figure_{name}"), _show(say, kind, data.get(name)), main)

    if kpi == "containment":
        figures = [fig("rate", "rate", True), fig("contained", "count"), fig("contacts", "count")]
        chart = _part_chart(say, data.get("contained"), data.get("contacts"),
                            "console_dash_part_contained", "console_dash_part_not_contained")
    elif kpi == "handoff_rate":
        reasons = [r for r in data.get("by_reason") or [] if isinstance(r, Mapping)]
        figures = [fig("rate", "rate", True), fig("handoffs", "count"), fig("contacts", "count")]
        figures += [Figure(f"reason-{r.get('reason', '')}", label("console_reason_", str(r.get("reason", ""))),
                           f"{show_count(r.get('count'))} · {show_rate(r.get('rate'))}") for r in reasons]
        chart = {"type": "hbar", "labels": [label("console_reason_", str(r.get("reason", ""))) for r in reasons],
                 "series": [{"label": say("console_dash_figure_handoffs"),
                             "data": [_nonneg(r.get("count")) for r in reasons]}]}
    elif kpi in ("queue_wait", "first_reply"):
        figures = [fig("p50", "seconds", True), fig("p90", "seconds"), fig("count", "count")]
        chart = _seconds_chart(say, data, ("p50", "p90"))
    elif kpi == "handling_time":
        figures = [fig("avg", "seconds", True), fig("p50", "seconds"), fig("p90", "seconds"), fig("count", "count")]
        chart = _seconds_chart(say, data, ("p50", "p90", "avg"))
    elif kpi == "fcr":
        figures = [fig("rate", "rate", True), fig("resolved", "count"), fig("contacts", "count")]
        chart = _part_chart(say, data.get("resolved"), data.get("contacts"),
                            "console_dash_part_resolved", "console_dash_part_not_resolved")
    elif kpi == "abandonment":
        figures = [fig("rate", "rate", True), fig("abandoned", "count"), fig("queued", "count")]
        chart = _part_chart(say, data.get("abandoned"), data.get("queued"),
                            "console_dash_part_abandoned", "console_dash_part_served")
    elif kpi == "fallback_rate":
        figures = [fig("rate", "rate", True), fig("fallbacks", "count"), fig("turns", "count")]
        chart = _part_chart(say, data.get("fallbacks"), data.get("turns"),
                            "console_dash_part_fallbacks", "console_dash_part_answered")
    else:
        figures, chart = _csat(say, data)
    return Card(kpi, title, definition, figures, chart)


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}


def _csat(say: Say, data: Mapping[str, Any]) -> Tuple[List[Figure], Dict[str, Any]]:
    by_source = _mapping(data.get("by_source"))
    figures = [Figure("avg", say("console_dash_figure_avg_score"), show_score(data.get("avg")), True),
               Figure("count", say("console_dash_figure_ratings"), show_count(data.get("count")))]
    for source in ("bot", "agent"):
        part = _mapping(by_source.get(source))
        figures.append(Figure(f"{source}-avg", say(f"console_dash_csat_{source}"),
                              say("console_dash_csat_of", avg=show_score(part.get("avg")),
                                  count=int(_nonneg(part.get("count"))))))
    scores = [str(n) for n in range(1, 6)]
    labels = [say("console_dash_stars", n=int(n)) for n in scores]
    split = {source: _mapping(_mapping(by_source.get(source)).get("distribution")) for source in ("bot", "agent")
             if isinstance(_mapping(by_source.get(source)).get("distribution"), Mapping)}
    if split:
        # Bot and agent ratings side by side when the report splits the distribution.
        series = [{"label": say(f"console_dash_csat_{source}"), "data": [_nonneg(dist.get(n)) for n in scores]}
                  for source, dist in split.items()]
    else:
        overall = _mapping(data.get("distribution"))
        series = [{"label": say("console_dash_figure_ratings"), "data": [_nonneg(overall.get(n)) for n in scores]}]
    return figures, {"type": "bar", "labels": labels, "series": series, "axis": say("console_dash_figure_ratings")}


def _daily_chart(say: Say, daily: Sequence[Mapping[str, Any]]) -> Dict[str, Any]:
    measures = ("turns", "contacts", "handoffs", "fallbacks")
    return {"type": "line", "labels": [str(d.get("day", "")) for d in daily],
            "series": [{"label": say(f"console_dash_daily_{m}"), "data": [_nonneg(d.get(m)) for d in daily]}
                       for m in measures]}


def _breakdown_rows(say: Say, label: Callable[[str, str], str], by: str,
                    rows: Sequence[Mapping[str, Any]]) -> List[Dict[str, Any]]:
    prefix = {"channel": "console_dash_channel_", "language": "console_dash_language_"}.get(by, "")
    out = []
    for row in rows:
        group = str(row.get("group") or "")
        name = label(prefix, group) if prefix and group else (group or say("console_dash_none"))
        out.append({"group": group, "name": name,
                    "cells": [_show(say, kind, row.get(column)) for column, kind in BREAKDOWN_COLUMNS]})
    return out


# -- CSV ------------------------------------------------------------------------------------------------
def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return f"{value:.4f}".rstrip("0").rstrip(".") if value != int(value) else str(int(value))
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_bytes(rows: Iterable[Sequence[Any]]) -> bytes:
    """Rows as CSV for spreadsheets: UTF-8 with a byte-order mark, every field quoted, CRLF line ends.

    A text that starts like a formula (``=``, ``+``, ``-``, ``@``) gets a leading ``'``,
    so a customer's words cannot run in the manager's spreadsheet.
    """
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return (_BOM + out.getvalue()).encode("utf-8")


def _report_rows(say: Say, view: DashboardView, report: Mapping[str, Any]) -> List[List[Any]]:
    rows: List[List[Any]] = [[say("console_dash_csv_section"), say("console_dash_csv_item"),
                              say("console_dash_csv_measure"), say("console_dash_csv_value")]]
    rows += [["period", "", "from", view.first.isoformat()], ["period", "", "to", view.last.isoformat()],
             ["period", "", "channel", view.channel], ["period", "", "language", view.language]]
    for kpi in kpi_order():
        data = report.get(kpi)
        if not isinstance(data, Mapping):
            continue
        for measure, value in data.items():
            if not isinstance(value, (Mapping, list)):
                rows.append([kpi, "", measure, value])
        for reason in data.get("by_reason") or []:
            rows += [[kpi, reason.get("reason", ""), m, reason.get(m)] for m in ("count", "rate")]
        distribution = data.get("distribution")
        if isinstance(distribution, Mapping):
            rows += [[kpi, str(score), "count", n] for score, n in distribution.items()]
        by_source = data.get("by_source")
        if isinstance(by_source, Mapping):
            for source, part in by_source.items():
                if isinstance(part, Mapping):
                    rows += [[kpi, source, m, v] for m, v in part.items() if not isinstance(v, (Mapping, list))]
                    split = part.get("distribution")
                    if isinstance(split, Mapping):
                        rows += [[kpi, f"{source} {score}", "count", n] for score, n in split.items()]
    for item in report.get("top_unanswered") or []:
        rows += [["top_unanswered", item.get("text", ""), m, item.get(m)] for m in ("count", "intent", "outcome")]
    for day in report.get("daily") or []:
        rows += [["daily", day.get("day", ""), m, v] for m, v in day.items() if m != "day"]
    return rows


def _breakdown_csv_rows(say: Say, by: str, rows: Sequence[Mapping[str, Any]]) -> List[List[Any]]:
    header = [say(f"console_dash_by_{by}")] + [say(f"console_dash_col_{c}") for c, _ in BREAKDOWN_COLUMNS]
    return [header] + [[row.get("group", "")] + [row.get(c) for c, _ in BREAKDOWN_COLUMNS] for row in rows]


def _csv_response(body: bytes, filename: str) -> HTTPResponse:
    return raw(body, content_type="text/csv; charset=utf-8",
               headers={"Content-Disposition": f'attachment; filename="{filename}"'})


# -- the pages -----------------------------------------------------------------------------------------
def _sayer(request: Request) -> Tuple[Say, Callable[[str, str], str]]:
    texts, language = state(request).texts, ui_language(request)

    def say(key: str, /, **values: Any) -> str:
        return texts.text(key, language, **values)

    def label(prefix: str, code: str) -> str:
        return named(request, prefix, code)

    return say, label


def _page(request: Request, view: Optional[DashboardView], *, error: str = "", status: int = 200,
          report: Optional[Mapping[str, Any]] = None, breakdowns: Optional[Mapping[str, Any]] = None,
          form: Optional[Mapping[str, str]] = None) -> HTTPResponse:
    say, label = _sayer(request)
    language = ui_language(request)
    report = report or {}
    cards = [c for c in (_card(say, label, k, report) for k in kpi_order()) if c is not None]
    daily = [d for d in report.get("daily") or [] if isinstance(d, Mapping)]
    unanswered = [u for u in report.get("top_unanswered") or [] if isinstance(u, Mapping)]
    charts: Dict[str, Any] = {f"chart-{c.kpi}": c.chart for c in cards}
    if daily:
        charts["chart-daily"] = _daily_chart(say, daily)
    tables = {by: _breakdown_rows(say, label, by, (breakdowns or {}).get(by) or []) for by in BREAKDOWNS}
    boot = {"dir": text_direction(language), "lang": language, "charts": charts}
    shown = form if form is not None else (view.params() if view else {})
    period_text = ""
    if view is not None:
        period_text = say("console_dash_period_shown", first=view.first.isoformat(), last=view.last.isoformat())
    return render(request, "console/dashboard.html", status=status, active="dashboard", view=view, error=error,
                  cards=cards, daily=daily, unanswered=unanswered, tables=tables, boot=boot, form=shown,
                  periods=PERIODS, channels=CHANNELS, breakdowns=BREAKDOWNS,
                  columns=[c for c, _ in BREAKDOWN_COLUMNS], period_text=period_text,
                  chart_js=CHART_JS, questions_link=_questions_link)


def _questions_link(item: Mapping[str, Any]) -> str:
    """The writers' page of unanswered questions, finding this question's wording."""
    return "/console/writers/questions?" + urlencode({"q": str(item.get("text", ""))[:300]})


@bp.get("/dashboard")
@require_role(*ROLES)
async def dashboard(request: Request) -> HTTPResponse:
    """The dashboard for the period and filters in the URL (a 400 page that says what is wrong otherwise)."""
    args = _args(request)
    say, _label = _sayer(request)
    try:
        view = parse_view(args, _today())
    except InvalidInput as exc:
        return _page(request, None, error=say(exc.text, **exc.values), status=400, form=args)
    try:
        report, breakdowns = await _figures(request, view)
    except Unavailable as exc:
        return _page(request, view, error=say(exc.text), status=503)
    return _page(request, view, report=report, breakdowns=breakdowns)


@bp.get("/dashboard/report.csv")
@require_role(*ROLES)
async def report_csv(request: Request) -> HTTPResponse:
    """Every KPI of the view as CSV rows ``section, item, measure, value``.

    Raises:
        InvalidInput: A filter cannot be read.
    """
    view = parse_view(_args(request), _today())
    report, _ = await _figures(request, view, ())
    say, _label = _sayer(request)
    return _csv_response(csv_bytes(_report_rows(say, view, report)), f"kesher-kpis-{view.file_stem}.csv")


@bp.get("/dashboard/breakdown.csv")
@require_role(*ROLES)
async def breakdown_csv(request: Request) -> HTTPResponse:
    """One breakdown (``by`` = channel, language, agent or team) of the view as CSV.

    Raises:
        InvalidInput: ``by`` or a filter cannot be read.
    """
    args = _args(request)
    by = args.get("by", "")
    if by not in BREAKDOWNS:
        raise InvalidInput(f"by must be one of {', '.join(BREAKDOWNS)}, not {by[:40]!r}",
                           text="console_dash_error_by", value=by[:40])
    view = parse_view(args, _today())
    _, breakdowns = await _figures(request, view, (by,))
    say, _label = _sayer(request)
    return _csv_response(csv_bytes(_breakdown_csv_rows(say, by, breakdowns[by])),
                         f"kesher-kpis-by-{by}-{view.file_stem}.csv")


@bp.get("/api/dashboard")
@require_role(*ROLES)
async def dashboard_json(request: Request) -> HTTPResponse:
    """The view's report and breakdowns as JSON.

    Raises:
        InvalidInput: A filter cannot be read.
    """
    view = parse_view(_args(request), _today())
    report, breakdowns = await _figures(request, view)
    return json({"period": view.period, "from": view.first.isoformat(), "to": view.last.isoformat(),
                 "channel": view.channel, "language": view.language, "report": report, "breakdowns": breakdowns})


def setup_dashboard(app: Sanic) -> None:
    """Adds the dashboard to the handoff service; its database is opened at start, closed at stop.

    Opening creates the event log's table where it is missing (a new SQLite file), so the dashboard of
    a service that has recorded nothing yet shows empty figures instead of failing; with the event log
    off (``KESHER_EVENT_LOG``) nothing is created.
    """
    app.blueprint(bp)

    @app.after_server_start
    async def _open_events(app: Sanic, _loop: Any) -> None:
        service = state(app)
        reader = _reader(app)
        if not service.settings.event_log:
            return  # nothing is recorded: no database is made (what was recorded before is still shown)
        engine = service.events_engine
        try:
            await asyncio.get_running_loop().run_in_executor(reader._pool, create_tables, engine)
        except SQLAlchemyError as exc:
            # The console must start while the database is down; the dashboard says so until it is back.
            log.warning("the event log's database is not reachable at start: %s", exc)

    @app.before_server_stop
    async def _close_reader(app: Sanic, _loop: Any) -> None:
        reader: Optional[KpiReader] = getattr(app.ctx, "kpi_reader", None)
        if reader is not None:
            reader.close()
