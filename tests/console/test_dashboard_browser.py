"""The manager's dashboard in headless Chromium (Debian's), on an event log with numbers worked out by hand.

What a manager would notice: the numbers beside each chart, a filter that changes them,
charts that are actually drawn (ink on every canvas, read from a screenshot), the CSV
that downloads, the link from an unanswered question to the writers' page, and in
Hebrew a page that reads from the right, charts included. The screenshots are kept in
``docs/`` (``dashboard-en.png``, ``dashboard-he.png``) for the README.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List

import pytest_asyncio
from redis.asyncio import Redis

from core.bidi import strip_controls
from core.settings import PROJECT_ROOT
from handoff.agents import hash_password
from kesher.add_agent import upsert_agent
from tests.console.conftest import PASSWORD
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.console_app import RunningConsole, copy_demo_agents, running_console
from tests.helpers.dashboard import FIRST_DAY, HEBREW_QUESTION, LAST_DAY, seed_events
from tests.helpers.redis_server import RedisServer
from tests.helpers.screenshots import box_ink, row_ink

pytestmark = needs_chromium

PERIOD = f"period=custom&from={FIRST_DAY}&to={LAST_DAY}"
DOCS = PROJECT_ROOT / "docs"
HEBREW_MANAGER = "hadas"
CHARTS = 10  # nine KPI cards and the daily series

# Where Chart.js laid out a chart: the value axis's side and the order of the category axis.
GEOMETRY = """
id => {
  const chart = Chart.getChart(document.getElementById(id));
  const x = chart.scales.x, y = chart.scales.y;
  return {yLeft: y.left, yRight: y.right, areaLeft: chart.chartArea.left, areaRight: chart.chartArea.right,
          firstX: x.getPixelForTick(0), lastX: x.getPixelForTick(x.ticks.length - 1), width: chart.width,
          legendRtl: chart.options.plugins.legend.rtl};
}
"""


def _tracker(sender: str, text: str, start: float = 1_772_442_000) -> str:
    events: List[Dict[str, Any]] = [
        {"event": "action", "name": "action_session_start"},
        {"event": "user", "text": text, "timestamp": start, "parse_data": {"intent": {"name": "nlu_fallback",
                                                                                        "confidence": 0.3}}},
        {"event": "action", "name": "action_fallback"},
    ]
    return json.dumps({"sender_id": sender, "events": events})


@pytest_asyncio.fixture()
async def service(redis_server: RedisServer, redis_client: Redis, tmp_path: Path) -> AsyncIterator[RunningConsole]:
    url = seed_events(tmp_path / "events.db")
    agents = copy_demo_agents(tmp_path / "agents")
    upsert_agent(agents, HEBREW_MANAGER, hash_password(PASSWORD), name="Hadas Mizrahi", languages=["he"],
                 role="manager", ui_language="he")
    # the writers' page reads the unanswered questions from the conversations Rasa keeps in Redis
    await redis_client.set("kesher:tracker:web:c2", _tracker("web:c2", HEBREW_QUESTION))
    await redis_client.set("kesher:tracker:web:x", _tracker("web:x", "מתי אתם פתוחים בשבת?", 1_772_442_100))
    # No mover in this service: the seeded log is months old (the mover blanks older customers' words),
    # and other tests' events on the same redis-server must not land in it.
    async with running_console(redis_server, tmp_path, agents_file=agents, events_db_url=url,
                               event_log=False) as running:
        yield running


@pytest_asyncio.fixture()
async def browser() -> AsyncIterator[Any]:
    async with chromium() as instance:
        yield instance


async def _page(browser: Any, service: RunningConsole, agent_id: str) -> Any:
    context = await browser.new_context(base_url=service.base_url, viewport={"width": 1280, "height": 900},
                                        locale="en-GB", device_scale_factor=1, accept_downloads=True)
    page = await context.new_page()
    page.set_default_timeout(20_000)
    errors: List[str] = []
    page.on("console", lambda m: errors.append(f"{m.text} ({m.location.get('url', '')})")
            if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.errors = errors
    await page.goto("/console/login")
    await page.fill("#agent_id", agent_id)
    await page.fill("#password", PASSWORD)
    await page.click("#login")
    await page.wait_for_url("**/console/dashboard")
    return page


async def _figure(page: Any, kpi: str, name: str) -> str:
    text: str = await page.locator(f'#kpi-{kpi} [data-figure="{name}"] dd').inner_text()
    return strip_controls(text).strip()  # a number in a Hebrew text is isolated (core/bidi.py)


async def _charts_drawn(page: Any) -> None:
    """Every canvas has ink on it (from a screenshot), not just a chart object behind it."""
    await page.locator('canvas[data-drawn="true"]').nth(CHARTS - 1).wait_for(state="attached")
    canvases = page.locator("canvas")
    assert await canvases.count() == CHARTS
    for i in range(CHARTS):
        canvas = canvases.nth(i)
        ink = await box_ink(page, canvas)
        name = await canvas.get_attribute("id")
        # Measured with no events: a card's axes or legend alone ink 0.5-3.3% of its canvas, the daily
        # series' axes 1.9%; drawn, the rings and bars ink more, and the daily lines about 4%.
        least = 0.03 if name == "chart-daily" else 0.04
        assert ink.share > least and ink.width > 0.3 * ink.box["width"], (name, ink)


async def test_a_manager_reads_the_numbers_beside_the_charts_filters_and_downloads(browser: Any,
                                                                                   service: RunningConsole) -> None:
    page = await _page(browser, service, "miriam")
    await page.goto(f"/console/dashboard?{PERIOD}")
    await _charts_drawn(page)
    assert await _figure(page, "fallback_rate", "rate") == "40%"
    assert await _figure(page, "fallback_rate", "turns") == "10"
    assert await _figure(page, "csat", "avg") == "3.7"
    assert await _figure(page, "handoff_rate", "rate") == "33.3%"

    # the numbers stand beside their chart: to its right, at the same height
    chart = await page.locator("#chart-fallback_rate").bounding_box()
    number = await page.locator('#kpi-fallback_rate [data-figure="rate"]').bounding_box()
    assert chart is not None and number is not None
    assert number["x"] >= chart["x"] + chart["width"] - 1, (chart, number)
    assert chart["y"] <= number["y"] <= chart["y"] + chart["height"]

    # the screenshot for the docs: the heading, the filters and the first cards, drawn
    shot = DOCS / "dashboard-en.png"
    drawn = await box_ink(page, page.locator("#kpi-containment"), path=shot)
    assert drawn.share > 0.02, drawn
    assert shot.stat().st_size > 20_000

    # a filter: the web channel only; the URL keeps it, so the view can be shared
    await page.select_option("#dash-channel", "web")
    await page.click("#dash-apply")
    await page.wait_for_url("**channel=web**")
    assert f"from={FIRST_DAY}" in page.url and "language=" not in page.url
    await _charts_drawn(page)
    assert await _figure(page, "fallback_rate", "rate") == "33.3%"
    assert await _figure(page, "fallback_rate", "turns") == "6"
    assert await _figure(page, "csat", "avg") == "4.5"
    # a preset drops the dates from the link
    await page.select_option("#dash-period", "30d")
    await page.click("#dash-apply")
    await page.wait_for_url("**period=30d**")
    assert "from=" not in page.url and "channel=web" in page.url

    # the CSV of what is shown
    await page.goto(f"/console/dashboard?{PERIOD}")
    async with page.expect_download() as download_info:
        await page.click("#export-report")
    download = await download_info.value
    assert download.suggested_filename == f"kesher-kpis-{FIRST_DAY}_{LAST_DAY}.csv"
    body = await asyncio.to_thread(Path(await download.path()).read_bytes)
    assert body.startswith("\ufeff".encode("utf-8")) and HEBREW_QUESTION.encode("utf-8") in body

    # an unanswered question leads to the writers' page, where it is marked first
    link = page.locator("#unanswered-table a.question-link", has_text=HEBREW_QUESTION)
    await link.click()
    await page.wait_for_url("**/console/writers/questions?q=**")
    found = page.locator(".question-group.found")
    assert await found.count() == 1
    assert HEBREW_QUESTION in await found.locator(".question").inner_text()
    assert await page.locator(".question-group").first.get_attribute("class") == "question-group found"
    assert HEBREW_QUESTION in await page.locator("#wording-notice").inner_text()
    assert await page.locator("form.add-example").count() == 0  # managers read; writers add
    assert page.errors == []


async def test_in_hebrew_the_page_and_its_charts_read_from_the_right(browser: Any, service: RunningConsole) -> None:
    page = await _page(browser, service, HEBREW_MANAGER)
    await page.goto(f"/console/dashboard?{PERIOD}")
    assert await page.get_attribute("html", "dir") == "rtl"
    heading = page.locator("#dashboard-heading")
    assert await heading.inner_text() == "מדדי השירות"
    await _charts_drawn(page)
    assert await _figure(page, "fallback_rate", "rate") == "40%"
    assert await _figure(page, "csat", "bot-avg") == "3.5 (שני דירוגים)"

    # the heading's ink stands against the right edge of the page
    shot = DOCS / "dashboard-he.png"
    ink = await row_ink(page, heading, page.locator("#dashboard"), path=shot)
    viewport = 1280
    right_edge = ink.box["x"] + ink.box["width"] - ink.right_gap
    assert viewport - right_edge < 60, (right_edge, ink)
    assert ink.left_gap > 0.6 * ink.box["width"], ink
    assert shot.stat().st_size > 20_000

    # numbers beside the chart, on its left now
    chart = await page.locator("#chart-fallback_rate").bounding_box()
    number = await page.locator('#kpi-fallback_rate [data-figure="rate"]').bounding_box()
    assert chart is not None and number is not None
    assert number["x"] + number["width"] <= chart["x"] + 1, (chart, number)

    # the daily series runs from the right (first day rightmost) with its value axis on the right
    daily = await page.evaluate(GEOMETRY, "chart-daily")
    assert daily["firstX"] > daily["lastX"], daily
    assert daily["yLeft"] >= daily["areaRight"] - 1 and daily["yRight"] > 0.8 * daily["width"], daily
    assert daily["legendRtl"] is True
    english = await _page(browser, service, "miriam")
    await english.goto(f"/console/dashboard?{PERIOD}")
    await _charts_drawn(english)
    left_to_right = await english.evaluate(GEOMETRY, "chart-daily")
    assert left_to_right["firstX"] < left_to_right["lastX"] and left_to_right["yRight"] <= left_to_right["areaLeft"] + 1
    assert page.errors == [] and english.errors == []
