"""The manager's dashboard over real HTTP: who may see it, its filters, its numbers and its CSV files.

The handoff service runs in the test's process with its own agents file and a
seeded SQLite event log (``tests/helpers/dashboard.py``: numbers worked out by hand).
"""

from __future__ import annotations

import csv
import io
from contextlib import asynccontextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import AsyncIterator, Dict, List

import httpx
import pytest
import pytest_asyncio
from sqlalchemy import create_engine, event

from analytics.kpis import BREAKDOWNS
from connectors.callback import CallbackChannel
from connectors.rest import KesherRestChannel
from connectors.telegram import TelegramChannel
from connectors.web import WebChannel
from connectors.whatsapp import WhatsAppChannel
from console.dashboard import CARDS, CHANNELS, KpiReader, kpi_order, parse_view, show_seconds
from core import channels
from core.errors import InvalidInput
from core.processes import free_port
from core.settings import PROJECT_ROOT
from handoff.agents import hash_password
from kesher.add_agent import upsert_agent
from tests.console.conftest import PASSWORD
from tests.helpers.console_app import RunningConsole, copy_demo_agents, running_console
from tests.helpers.dashboard import (
    FIRST_DAY,
    FORMULA_QUESTION,
    HEBREW_QUESTION,
    LAST_DAY,
    integration_events,
    seed_events,
)
from tests.helpers.postgres import start_postgres
from tests.helpers.redis_server import RedisServer

HEBREW_MANAGER = "hadas"
VERSION = "4.6.1"  # console/static/vendor/chartjs/README.md
PERIOD = f"period=custom&from={FIRST_DAY}&to={LAST_DAY}"
CHART_JS = PROJECT_ROOT / "console" / "static" / "vendor" / "chartjs" / "chart.umd.min.js"


@pytest_asyncio.fixture()
async def service(redis_server: RedisServer, tmp_path: Path) -> AsyncIterator[RunningConsole]:
    url = seed_events(tmp_path / "events.db")
    agents = copy_demo_agents(tmp_path / "agents")
    # a manager who reads the console in Hebrew (the demo manager, miriam, reads it in English)
    upsert_agent(agents, HEBREW_MANAGER, hash_password(PASSWORD), name="Hadas Mizrahi", languages=["he"],
                 role="manager", ui_language="he")
    # No mover in this service: the seeded log is months old (the mover blanks older customers' words),
    # and other tests' events on the same redis-server must not land in it.
    async with running_console(redis_server, tmp_path, agents_file=agents, events_db_url=url,
                               event_log=False) as running:
        yield running


@asynccontextmanager
async def _client(service: RunningConsole, agent_id: str = "") -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.base_url, follow_redirects=False, timeout=20) as client:
        if agent_id:
            await _login(client, agent_id)
        yield client


async def _login(client: httpx.AsyncClient, agent_id: str) -> None:
    if agent_id:
        form = await client.get("/console/login")
        marker = 'name="csrf_token" value="'
        start = form.text.index(marker) + len(marker)
        token = form.text[start:form.text.index('"', start)]
        response = await client.post("/console/login", data={"agent_id": agent_id, "password": PASSWORD,
                                                              "csrf_token": token})
        assert response.status_code == 303, response.text


def _figure(html: str, kpi: str, name: str) -> str:
    """The shown value of one figure of a KPI card (the page's markup is the template's own)."""
    card = html[html.index(f'id="kpi-{kpi}"'):]
    card = card[:card.index("</article>")]
    at = card.index(f'data-figure="{name}"')
    start = card.index('<dd dir="auto">', at) + len('<dd dir="auto">')
    return card[start:card.index("</dd>", start)]


# -- who may see it ---------------------------------------------------------------------------------
async def test_anonymous_is_sent_to_the_login_and_the_api_says_401(service: RunningConsole) -> None:
    async with _client(service) as anonymous:
        for path in ("/console/dashboard", f"/console/dashboard/report.csv?{PERIOD}",
                     f"/console/dashboard/breakdown.csv?by=channel&{PERIOD}"):
            response = await anonymous.get(path)
            assert response.status_code == 302, path
            assert response.headers["location"] == "/console/login"
        api = await anonymous.get(f"/console/api/dashboard?{PERIOD}")
        assert api.status_code == 401 and api.json()["error"] == "log in first"


@pytest.mark.parametrize("agent_id", ["omer", "maya"])  # an agent, a writer
async def test_other_roles_get_403_with_a_message(service: RunningConsole, agent_id: str) -> None:
    async with _client(service, agent_id) as client:
        page = await client.get(f"/console/dashboard?{PERIOD}")
        assert page.status_code == 403
        assert "Not available for your role" in page.text and HEBREW_QUESTION not in page.text
        assert 'href="/console/dashboard"' not in page.text  # no link to it either
        for path in (f"/console/dashboard/report.csv?{PERIOD}", f"/console/dashboard/breakdown.csv?by=agent&{PERIOD}"):
            refused = await client.get(path)
            assert refused.status_code == 403 and "text/csv" not in refused.headers["content-type"], path
        api = await client.get(f"/console/api/dashboard?{PERIOD}")
        assert api.status_code == 403 and "may not use this" in api.json()["error"]


async def test_a_manager_lands_on_the_dashboard_and_a_supervisor_sees_it_too(service: RunningConsole) -> None:
    async with _client(service, "miriam") as manager:
        landing = await manager.get("/console")
        assert landing.status_code == 302 and landing.headers["location"] == "/console/dashboard"
        page = await manager.get("/console/dashboard")
        assert page.status_code == 200
        assert 'href="/console/dashboard" aria-current="page"' in page.text
        assert 'href="/console/writers/questions"' in page.text and 'href="/console/mail"' not in page.text
        desk_api = await manager.get("/console/api/queue")
        assert desk_api.status_code == 403  # a manager has no desk
    async with _client(service, "dana") as supervisor:
        page = await supervisor.get(f"/console/dashboard?{PERIOD}")
        assert page.status_code == 200 and HEBREW_QUESTION in page.text


# -- the numbers ------------------------------------------------------------------------------------------
async def test_the_page_shows_the_seeded_numbers_and_the_filters_change_them(service: RunningConsole) -> None:
    async with _client(service, "miriam") as client:
        page = (await client.get(f"/console/dashboard?{PERIOD}")).text
        assert _figure(page, "fallback_rate", "rate") == "40%"
        assert _figure(page, "fallback_rate", "fallbacks") == "4"
        assert _figure(page, "fallback_rate", "turns") == "10"
        assert _figure(page, "handoff_rate", "handoffs") == "2"
        assert _figure(page, "handoff_rate", "contacts") == "6"
        assert _figure(page, "handoff_rate", "rate") == "33.3%"
        assert _figure(page, "csat", "avg") == "3.7"
        assert _figure(page, "csat", "bot-avg") == "3.5 (2 ratings)"
        assert _figure(page, "csat", "agent-avg") == "4.0 (1 rating)"
        assert _figure(page, "queue_wait", "p50") == "1 min 0 s"
        assert _figure(page, "abandonment", "abandoned") == "1"
        assert (_figure(page, "fcr", "rate"), _figure(page, "fcr", "resolved")) == ("83.3%", "5")
        assert "old question" not in page  # before the period
        assert page.count('class="unanswered-row"') >= 2
        assert page.count("<canvas") == 10  # nine KPI cards and the daily series

        web = (await client.get(f"/console/dashboard?{PERIOD}&channel=web")).text
        assert _figure(web, "fallback_rate", "rate") == "33.3%"
        assert _figure(web, "fallback_rate", "turns") == "6"
        assert _figure(web, "handoff_rate", "rate") == "25%"
        assert _figure(web, "csat", "avg") == "4.5"
        assert _figure(web, "fcr", "rate") == "75%"
        assert FORMULA_QUESTION not in web
        english = (await client.get(f"/console/dashboard?{PERIOD}&language=en")).text
        assert _figure(english, "fallback_rate", "rate") == "50%"
        assert HEBREW_QUESTION not in english

        empty = (await client.get("/console/dashboard?period=custom&from=2025-01-01&to=2025-01-31")).text
        assert _figure(empty, "fallback_rate", "rate") == "—"  # nothing to divide by: a dash, not an error
        assert _figure(empty, "csat", "avg") == "—"


async def test_the_same_numbers_from_postgresql(redis_server: RedisServer, tmp_path: Path) -> None:
    server = start_postgres()
    try:
        url = seed_events(server.create_database("dashboard"))
        async with running_console(redis_server, tmp_path, events_db_url=url, event_log=False) as on_postgres:
            async with _client(on_postgres, "miriam") as client:
                page = (await client.get(f"/console/dashboard?{PERIOD}")).text
                web = (await client.get(f"/console/dashboard?{PERIOD}&channel=web")).text
                exported = await client.get(f"/console/dashboard/breakdown.csv?by=team&{PERIOD}")
    finally:
        server.remove()
    assert _figure(page, "fallback_rate", "rate") == "40%" and _figure(page, "csat", "avg") == "3.7"
    assert _figure(page, "queue_wait", "p50") == "1 min 0 s" and HEBREW_QUESTION in page
    assert _figure(web, "handoff_rate", "rate") == "25%"
    assert "billing" in [row[0] for row in _rows(exported.content)[1:]]


async def test_the_json_answer_has_the_report_and_every_breakdown(service: RunningConsole) -> None:
    async with _client(service, "miriam") as client:
        answer = (await client.get(f"/console/api/dashboard?{PERIOD}&channel=web")).json()
        assert (answer["from"], answer["to"], answer["channel"]) == (FIRST_DAY, LAST_DAY, "web")
        assert answer["report"]["fallback_rate"]["turns"] == 6
        assert set(answer["breakdowns"]) == {"channel", "language", "agent", "team"}
        assert [row["group"] for row in answer["breakdowns"]["channel"]] == ["web"]


async def test_the_channel_filter_offers_the_channels_events_really_carry(redis_server: RedisServer,
                                                                         tmp_path: Path) -> None:
    # Every connector answers its name from core.channels, and so do the events of its conversations.
    assert [KesherRestChannel.name(), CallbackChannel.name()] == [channels.REST, channels.CALLBACK]
    assert {WebChannel.name(), WhatsAppChannel.name(), TelegramChannel.name(), KesherRestChannel.name(),
            CallbackChannel.name()} == set(CHANNELS)
    url = seed_events(tmp_path / "events.db", extra=integration_events())
    async with running_console(redis_server, tmp_path, agents_file=copy_demo_agents(tmp_path / "agents"),
                               events_db_url=url, event_log=False) as running:
        async with _client(running, "miriam") as client:
            page = (await client.get(f"/console/dashboard?{PERIOD}")).text
            rest = (await client.get(f"/console/dashboard?{PERIOD}&channel=kesher_rest")).text
            callback = (await client.get(f"/console/dashboard?{PERIOD}&channel=kesher_callback")).text
            old_name = await client.get(f"/console/dashboard?{PERIOD}&channel=rest")
    picker = page[page.index('id="dash-channel"'):]
    picker = picker[:picker.index("</select>")]
    assert '<option value="kesher_rest" >REST API</option>' in picker
    assert '<option value="kesher_callback" >Integration (callback URL)</option>' in picker
    # The REST script's contact: two messages, one not understood, rated 5; nobody else's numbers.
    assert (_figure(rest, "fallback_rate", "turns"), _figure(rest, "fallback_rate", "rate")) == ("2", "50%")
    assert (_figure(rest, "containment", "contacts"), _figure(rest, "csat", "avg")) == ("1", "5.0")
    assert "integration question" in rest and HEBREW_QUESTION not in rest
    # The callback integration's contact went to a person.
    assert (_figure(callback, "handoff_rate", "handoffs"), _figure(callback, "handoff_rate", "rate")) == ("1", "100%")
    assert old_name.status_code == 400


# -- bad filters: 400 with the reason, never 500 -----------------------------------------------------------
BAD = {
    "period=year": "Unknown period “year”",
    "period=custom&from=2026-13-01&to=2026-12-31": "“from” must be a date like 2026-03-31",
    "period=custom&from=2026-03-01": "needs both dates",
    "from=2026-03-02&to=tomorrow": "“to” must be a date",
    "period=custom&from=2026-03-05&to=2026-03-01": "The first date is after the last one.",
    "period=custom&from=2024-01-01&to=2026-01-01": "A period is at most 366 days.",
    "period=custom&from=9999-12-30&to=9999-12-31": "“from” must be a date between the years 2000 and 2999.",
    "period=custom&from=2026-01-01&to=0001-01-01": "“to” must be a date between the years 2000 and 2999.",
    "channel=fax": "Unknown channel “fax”.",
    "language=fr": "Unknown language “fr”",
    "period=%3Cscript%3E": "Unknown period “&lt;script&gt;”",
}


async def test_bad_filters_get_400_with_the_reason(service: RunningConsole) -> None:
    async with _client(service, "miriam") as client:
        for query, reason in BAD.items():
            page = await client.get(f"/console/dashboard?{query}")
            assert page.status_code == 400, query
            assert reason in page.text, (query, page.text[-2000:])
            assert "<script>" not in page.text
            api = await client.get(f"/console/api/dashboard?{query}")
            assert api.status_code == 400 and reason.replace("&lt;", "<").replace("&gt;", ">") in api.json()["error"]
            exported = await client.get(f"/console/dashboard/report.csv?{query}")
            assert exported.status_code == 400 and "text/csv" not in exported.headers["content-type"], query
        wrong_by = await client.get(f"/console/dashboard/breakdown.csv?by=weekday&{PERIOD}")
        assert wrong_by.status_code == 400 and "Unknown breakdown “weekday”" in wrong_by.json()["error"]


def test_the_presets_end_today_in_utc() -> None:
    today = date(2026, 3, 31)
    assert (parse_view({}, today).first, parse_view({}, today).last) == (date(2026, 3, 25), today)
    assert parse_view({"period": "today"}, today).first == today
    month = parse_view({"period": "30d", "channel": "whatsapp", "language": "he"}, today)
    assert month.first == today - timedelta(days=29)
    assert month.query() == "period=30d&channel=whatsapp&language=he"  # no dates in a preset's link
    custom = parse_view({"from": "2026-03-01", "to": "2026-03-01"}, today)
    assert custom.period == "custom" and custom.query(by="team") == \
        "period=custom&from=2026-03-01&to=2026-03-01&by=team"
    kpi = custom.kpi_filter()
    assert (kpi.end - kpi.start) == timedelta(days=1)  # the last day counts whole
    with pytest.raises(InvalidInput):
        parse_view({"period": "custom", "from": "2026-02-30", "to": "2026-03-01"}, today)


def test_durations_read_like_a_person_wrote_them() -> None:
    def say(key: str, **values: int) -> str:
        return {"console_dash_seconds": "{s} s", "console_dash_minutes": "{m} min {s} s",
                "console_dash_hours": "{h} h {m} min"}[key].format(**values)

    assert [show_seconds(say, v) for v in (None, 0, 59.6, 60, 3599, 3600 + 180)] == \
        ["—", "0 s", "1 min 0 s", "1 min 0 s", "59 min 59 s", "1 h 3 min"]


# -- CSV ---------------------------------------------------------------------------------------------
def _rows(body: bytes) -> List[List[str]]:
    assert body.startswith("\ufeff".encode("utf-8")), "no byte-order mark: Excel would garble Hebrew"
    text = body.decode("utf-8")[1:]
    assert "\r\n" in text
    return list(csv.reader(io.StringIO(text, newline="")))


async def test_the_report_csv_quotes_everything_and_defuses_formulas(service: RunningConsole) -> None:
    async with _client(service, "miriam") as client:
        response = await client.get(f"/console/dashboard/report.csv?{PERIOD}")
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/csv; charset=utf-8"
        assert response.headers["content-disposition"] == \
            f'attachment; filename="kesher-kpis-{FIRST_DAY}_{LAST_DAY}.csv"'
        rows = _rows(response.content)
        assert rows[0] == ["section", "item", "measure", "value"]
        values: Dict[tuple, str] = {(r[0], r[1], r[2]): r[3] for r in rows[1:]}
        assert values[("period", "", "from")] == FIRST_DAY
        assert values[("fallback_rate", "", "rate")] == "0.4"
        assert values[("fallback_rate", "", "turns")] == "10"
        assert values[("top_unanswered", HEBREW_QUESTION, "count")] == "2"
        # the customer's words come back whole (comma and quotes; the event log folds their case) but
        # cannot run as a formula
        questions = {r[1].casefold(): r[3] for r in rows[1:] if r[0] == "top_unanswered" and r[2] == "count"}
        assert questions["'" + FORMULA_QUESTION.casefold()] == "2"
        assert '"\'=hyperlink(""x""), can i pay ""later""?"' in response.content.decode("utf-8").casefold()


async def test_each_breakdown_downloads_as_csv_in_the_readers_language(service: RunningConsole) -> None:
    async with _client(service, "miriam") as client:
        response = await client.get(f"/console/dashboard/breakdown.csv?by=channel&{PERIOD}")
        assert response.headers["content-disposition"] == \
            f'attachment; filename="kesher-kpis-by-channel-{FIRST_DAY}_{LAST_DAY}.csv"'
        rows = _rows(response.content)
        assert rows[0][:3] == ["By channel", "Contacts", "Bot alone"]
        by_channel = {r[0]: r for r in rows[1:]}
        assert set(by_channel) == {"web", "telegram"}
        assert by_channel["web"][1] == "4" and by_channel["telegram"][1] == "2"
        agents = _rows((await client.get(f"/console/dashboard/breakdown.csv?by=agent&{PERIOD}")).content)
        assert "omer" in [r[0] for r in agents[1:]]
    async with _client(service, HEBREW_MANAGER) as hebrew:
        rows = _rows((await hebrew.get(f"/console/dashboard/breakdown.csv?by=language&{PERIOD}")).content)
        assert rows[0][:2] == ["לפי שפה", "פניות"]  # headers in the manager's language
        assert {r[0] for r in rows[1:]} == {"he", "en"}


# -- the chart library is Kesher's own ----------------------------------------------------------------
async def test_chart_js_is_served_by_the_console_under_its_csp(service: RunningConsole) -> None:
    assert f"Chart.js v{VERSION}" in CHART_JS.read_text(encoding="utf-8")[:200]
    assert (CHART_JS.parent / "LICENSE.md").read_text(encoding="utf-8").startswith("The MIT License")
    async with _client(service, "miriam") as client:
        page = await client.get(f"/console/dashboard?{PERIOD}")
        csp = page.headers["content-security-policy"]
        assert "script-src 'self';" in csp and "unsafe-inline" not in csp
        assert '<script src="/console/static/vendor/chartjs/chart.umd.min.js' in page.text
        assert "https://" not in page.text.split("</header>", 1)[1]  # nothing from elsewhere
        script = await client.get("/console/static/vendor/chartjs/chart.umd.min.js")
        assert script.status_code == 200 and "javascript" in script.headers["content-type"]
        assert script.content == CHART_JS.read_bytes()


def test_every_kpi_of_the_report_has_a_place_on_the_page() -> None:
    # a KPI added to analytics/kpis.py needs a card (and its texts) or a section of its own here
    assert set(kpi_order()) == set(CARDS) | {"top_unanswered", "daily"}


async def test_without_an_event_log_the_page_says_so(redis_server: RedisServer, tmp_path: Path) -> None:
    # the event log switched off, nothing ever recorded: a 503 page that says why
    async with running_console(redis_server, tmp_path, event_log=False) as off:
        async with _client(off, "miriam") as client:
            page = await client.get("/console/dashboard")
            assert page.status_code == 503
            assert "The event log is off (KESHER_EVENT_LOG)" in page.text
            api = await client.get("/console/api/dashboard")
            assert api.status_code == 503 and "KESHER_EVENT_LOG" in api.json()["error"]


async def test_a_database_that_does_not_answer_is_a_503_not_a_500(redis_server: RedisServer,
                                                                 tmp_path: Path) -> None:
    # PostgreSQL's URL with nothing listening: the console still starts, and the dashboard says what is wrong
    url = f"postgresql://kesher@127.0.0.1:{free_port()}/events"
    async with running_console(redis_server, tmp_path, events_db_url=url) as down:
        async with _client(down, "miriam") as client:
            page = await client.get(f"/console/dashboard?{PERIOD}")
            assert page.status_code == 503 and "does not answer" in page.text
            exported = await client.get(f"/console/dashboard/report.csv?{PERIOD}")
            assert exported.status_code == 503 and "does not answer" in exported.json()["error"]


async def test_a_view_asked_again_within_a_minute_is_not_read_again(tmp_path: Path) -> None:
    engine = create_engine(seed_events(tmp_path / "events.db"), future=True)
    statements: List[str] = []
    event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    now = [1000.0]
    reader = KpiReader(engine, clock=lambda: now[0])
    view = parse_view({"from": FIRST_DAY, "to": LAST_DAY}, date(2026, 3, 31))
    try:
        report, breakdowns = await reader.figures(view.kpi_filter())
        read = len(statements)
        assert read > 0 and report["fallback_rate"]["turns"] == 10 and set(breakdowns) == set(BREAKDOWNS)
        now[0] += 59
        assert (await reader.figures(view.kpi_filter()))[0] == report
        assert len(statements) == read  # the same view within the minute: from memory
        _, only_team = await reader.figures(view.kpi_filter(), ("team",))
        assert len(statements) == read and list(only_team) == ["team"]
        now[0] += 2
        await reader.figures(view.kpi_filter())
        assert len(statements) == 2 * read  # older than a minute: read again
    finally:
        reader.close()
        engine.dispose()
