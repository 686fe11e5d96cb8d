"""The writers' flow charts in the running service: who may see them, and (headless Chromium) how they look.

The browser test checks the Hebrew rendering from a screenshot: the glyphs are
drawn (enough ink, and real Hebrew widths rather than tofu boxes) and the ink
sits at the right of the label's area, as a right-to-left line should.
"""

from __future__ import annotations

import io
import json
import shutil
from pathlib import Path
from typing import Any, AsyncIterator, Dict, List

import httpx
import pytest_asyncio
from PIL import Image
from redis.asyncio import Redis

from core.suggestions import SUGGESTION, make_suggestion
from tests.console.conftest import PASSWORD, WRITER, Service
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.screenshots import box_ink, row_ink
from tests.helpers.texts import catalog
from writers.flows import load_flows

ROOT = Path(__file__).resolve().parents[2]
PAD = 12.0  # writers.flow_svg.PAD: the text area of a box is inset by this much
PROJECT = load_flows(ROOT)
HEBREW_FLOW = next(f for f in PROJECT.flows if f.name.startswith("late order, the customer takes"))


# -- over HTTP ---------------------------------------------------------------------------
def _between(html: str, marker: str) -> str:
    start = html.index(marker) + len(marker)
    return html[start:html.index('"', start)]


async def _login(client: httpx.AsyncClient, agent_id: str) -> None:
    form = await client.get("/console/login")
    token = _between(form.text, 'name="csrf_token" value="')
    response = await client.post("/console/login", data={"agent_id": agent_id, "password": PASSWORD,
                                                          "csrf_token": token})
    assert response.status_code == 303, response.text


@pytest_asyncio.fixture()
async def client(console_service: Service) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=console_service.base_url, follow_redirects=False, timeout=15) as c:
        yield c


async def test_logged_out_is_sent_to_login(client: httpx.AsyncClient):
    for path in ("/console/writers", f"/console/writers/flows/{HEBREW_FLOW.slug}"):
        response = await client.get(path)
        assert response.status_code == 302, path
        assert response.headers["location"] == "/console/login"


async def test_an_agent_gets_403_a_supervisor_gets_the_page(console_service: Service):
    # dana is a supervisor in the demo agents file; omer and sarah are agents
    async with httpx.AsyncClient(base_url=console_service.base_url, timeout=15) as agent:
        await _login(agent, "omer")
        for path in ("/console/writers", f"/console/writers/flows/{HEBREW_FLOW.slug}"):
            response = await agent.get(path)
            assert response.status_code == 403, path
            assert "Not available for your role" in response.text
            assert 'href="/console/writers"' not in response.text  # no Writers link for agents
    async with httpx.AsyncClient(base_url=console_service.base_url, timeout=15) as supervisor:
        await _login(supervisor, "dana")
        response = await supervisor.get("/console/writers")
        assert response.status_code == 200
        assert response.text.count('class="flow-row"') == len(PROJECT.flows)


async def test_writer_pages_over_http(client: httpx.AsyncClient):
    await _login(client, WRITER)
    overview = await client.get("/console/writers")
    assert overview.status_code == 200
    assert "script-src 'self'" in overview.headers["content-security-policy"]
    assert overview.text.count('class="flow-row"') == len(PROJECT.flows) >= 30
    assert "style=" not in overview.text and "<script" not in overview.text
    # Forms by what they ask for, the raw name kept for finding it in the YAML.
    assert 'data-form="order_form" title="order_form">asks for the order details<' in overview.text
    form_flow = next(f for f in PROJECT.flows if "order_form" in f.forms)
    form_chart = await client.get(f"/console/writers/flows/{form_flow.slug}")
    assert "asks for the order details (<code>order_form</code>)" in form_chart.text

    chart = await client.get(f"/console/writers/flows/{HEBREW_FLOW.slug}")
    assert chart.status_code == 200
    assert "<svg" in chart.text and 'direction="rtl"' in chart.text and 'xml:lang="he"' in chart.text
    assert "style=" not in chart.text and "<script" not in chart.text
    only_he = await client.get(f"/console/writers/flows/{HEBREW_FLOW.slug}?lang=he")
    assert 'class="flow-he"' in only_he.text and 'class="flow-en"' not in only_he.text
    assert f'href="/console/writers/flows/{HEBREW_FLOW.slug}?lang=he" lang="he" aria-current="true"' in only_he.text
    only_en = await client.get(f"/console/writers/flows/{HEBREW_FLOW.slug}?lang=en")
    assert 'class="flow-en"' in only_en.text and 'class="flow-he"' not in only_en.text

    for missing in ("no-such-flow", "%3Cscript%3E", "UPPER"):
        response = await client.get(f"/console/writers/flows/{missing}")
        assert response.status_code == 404, missing
        assert "No such flow" in response.text and "<script>" not in response.text


# -- in Chromium -------------------------------------------------------------------------
@pytest_asyncio.fixture()
async def browser() -> AsyncIterator[Any]:
    async with chromium() as instance:
        yield instance


@pytest_asyncio.fixture()
async def page(browser: Any, console_service: Service) -> AsyncIterator[Any]:
    context = await browser.new_context(base_url=console_service.base_url, viewport={"width": 1280, "height": 900},
                                        locale="en-GB", device_scale_factor=1)
    page = await context.new_page()
    page.set_default_timeout(10_000)
    errors: List[str] = []
    # the browser's own favicon request is the one 404 to expect (the console has no favicon)
    page.on("console", lambda m: errors.append(f"{m.text} ({m.location.get('url', '')})")
            if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.errors = errors
    yield page
    await context.close()


async def _browser_login(page: Any, agent_id: str) -> None:
    await page.goto("/console/login")
    await page.fill("#agent_id", agent_id)
    await page.fill("#password", PASSWORD)
    await page.click("#login")
    await page.wait_for_load_state()


# Widths (getComputedTextLength) of a Hebrew line's letters, of as many "□" and of as many
# unassigned code points (drawn as tofu boxes), in the same font; and of two single letters.
MEASURE = """
el => {
  const svg = el.ownerSVGElement;
  const width = s => {
    const t = document.createElementNS('http://www.w3.org/2000/svg', 'text');
    t.setAttribute('class', el.getAttribute('class'));
    t.setAttribute('x', '0');
    t.setAttribute('y', '-50');
    t.textContent = s;
    svg.appendChild(t);
    const w = t.getComputedTextLength();
    t.remove();
    return w;
  };
  const letters = [...el.textContent].filter(c => c >= '\\u05d0' && c <= '\\u05ea').join('');
  const n = letters.length;
  return {n, hebrew: width(letters), squares: width('\\u25a1'.repeat(n)), tofu: width('\\u0378'.repeat(n)),
          yod: width('\\u05d9'), shin: width('\\u05e9'),
          first: el.getStartPositionOfChar(1).x, last: el.getStartPositionOfChar(el.getNumberOfChars() - 2).x,
          direction: getComputedStyle(el).direction};
}
"""


def _ink_columns(png: bytes, threshold: int = 120) -> Dict[int, int]:
    """Column → number of dark pixels in it."""
    image = Image.open(io.BytesIO(png)).convert("L")
    width, height = image.size
    pixels = image.load()
    assert pixels is not None
    columns: Dict[int, int] = {}
    for x in range(width):
        dark = sum(1 for y in range(height) if pixels[x, y] < threshold)  # type: ignore[operator,misc]
        if dark:
            columns[x] = dark
    return columns


@needs_chromium
async def test_writer_sees_the_flows_and_hebrew_reads_right_to_left(page: Any, tmp_path: Path):
    await page.goto("/console/writers")
    assert page.url.endswith("/console/login")
    await _browser_login(page, WRITER)
    await page.goto("/console/writers")
    rows = page.locator("#flow-list tr.flow-row")
    await rows.first.wait_for()
    assert await rows.count() == len(PROJECT.flows) >= 30
    writers_link = page.locator('.nav a[href="/console/writers"]')
    assert await writers_link.get_attribute("aria-current") == "page"
    assert await page.locator('#intent-table tr[data-intent="order_status"] .example[lang="he"]').count() == 1
    overview_shot = tmp_path / "writers-overview.png"
    cell = page.locator('#intent-table tr[data-intent="order_status"] td.intent-cell')
    example = await row_ink(page, cell.locator('.example[lang="he"]'), cell, path=overview_shot)
    assert example.right_gap < 0.1 * example.box["width"] < example.left_gap, example  # reads from the right

    await page.click(f'#flow-list a[href="/console/writers/flows/{HEBREW_FLOW.slug}"]')
    chart = page.locator("#flow-chart svg.flow-chart")
    await chart.wait_for()
    assert await chart.is_visible()
    size = await chart.bounding_box()
    assert size is not None and size["width"] > 400 and size["height"] > 600
    assert await page.locator("#flow-title").text_content() == HEBREW_FLOW.name
    assert await chart.locator("g.flow-handoff").count() == 1
    assert await chart.locator("text.flow-he").count() >= 7  # examples, responses, what the actions do
    flow_shot = tmp_path / "writers-flow-hebrew.png"
    drawn = await box_ink(page, chart, path=flow_shot)
    assert drawn.share > 0.02 and drawn.width > 0.8 * drawn.box["width"], drawn  # boxes and lines, edge to edge

    # the customer's Hebrew example in the first box: a short line in a wide box
    box = chart.locator("g.flow-intent").first
    line = box.locator("text.flow-he")
    assert await line.get_attribute("direction") == "rtl"
    m = await line.evaluate(MEASURE)
    assert m["direction"] == "rtl"
    assert m["first"] > m["last"], "the first letter must be drawn right of the last"
    assert m["n"] >= 8 and m["hebrew"] > 0
    assert abs(m["hebrew"] - m["squares"]) / m["squares"] > 0.1, m
    assert abs(m["hebrew"] - m["tofu"]) / m["tofu"] > 0.05, m
    assert m["yod"] < 0.7 * m["shin"], m  # real letters differ in width; tofu boxes do not

    png = await box.screenshot(path=str(tmp_path / "writers-hebrew-box.png"))
    group = await box.bounding_box()
    shape = await box.locator("rect").first.bounding_box()
    text = await line.bounding_box()
    assert group is not None and shape is not None and text is not None
    image = Image.open(io.BytesIO(png))
    top = round(text["y"] - group["y"])
    left = round(shape["x"] + 4 - group["x"])  # inside the box's border
    right = round(shape["x"] + shape["width"] - 4 - group["x"])
    band = image.crop((left, max(0, top), right, min(image.height, top + round(text["height"]))))
    buffer = io.BytesIO()
    band.save(buffer, format="PNG")
    columns = _ink_columns(buffer.getvalue())
    assert sum(columns.values()) >= 80, "the Hebrew glyphs were not drawn"
    assert len(columns) >= 0.4 * text["width"], "too few inked columns for a line of letters"
    area_left = shape["x"] + PAD
    area_right = shape["x"] + shape["width"] - PAD
    ink_left = group["x"] + left + min(columns)
    ink_right = group["x"] + left + max(columns)
    assert area_right - 6 <= ink_right <= area_right + 2, (ink_right, area_right)
    assert text["width"] < 0.6 * (area_right - area_left)
    assert ink_left > area_left + 0.3 * (area_right - area_left), (ink_left, area_left)

    print(f"screenshots: {overview_shot} {flow_shot}")
    assert [e for e in page.errors if "Content Security Policy" in e] == []
    assert page.errors == []


@needs_chromium
async def test_on_the_hebrew_console_a_chart_says_its_tags_and_conditions_in_hebrew_words(page: Any, tmp_path: Path):
    texts = catalog()
    flow = next(f for f in PROJECT.flows if f.name == "the customer accepts our offer of a human")
    await _browser_login(page, WRITER)
    await page.goto(f"/console/writers/flows/{flow.slug}")
    await page.click("#lang-switch-button")  # the writer switches the console to Hebrew
    await page.wait_for_load_state()
    try:
        assert await page.locator("html").get_attribute("lang") == "he"
        chart = page.locator("#flow-chart svg.flow-chart")
        await chart.wait_for()
        # The tags and the start and end, in Hebrew, right to left.
        tags = [t.strip() for t in await chart.locator("text.flow-tag").all_text_contents()]
        assert tags == [texts.text(f"flow_tag_{k}", "he") for k in ("condition", "intent", "handoff", "slot")]
        for css in ("flow-tag", "flow-meta", "flow-terminal"):
            for line in await chart.locator(f"text.{css}").all():
                assert await line.get_attribute("lang") == "he"
                assert await line.evaluate("e => getComputedStyle(e).direction") == "rtl", css
                m = await line.evaluate(MEASURE)
                assert m["first"] > m["last"], (css, await line.text_content(), m)  # drawn right to left
        terminals = await chart.locator("text.flow-terminal").all_text_contents()
        assert terminals == [texts.text("flow_start_rule", "he"), texts.text("flow_end_waits", "he")]
        # The condition in words, drawn from the right; the YAML as written only as small code.
        condition = chart.locator('g[data-kind="condition"]')
        words = condition.locator("text.flow-meta")
        assert await words.text_content() == "הוצע לדבר עם נציג"
        m = await words.evaluate(MEASURE)
        assert m["first"] > m["last"] and m["n"] >= 10, m
        assert abs(m["hebrew"] - m["tofu"]) / m["tofu"] > 0.05, m  # real glyphs
        shape, drawn = await condition.locator("rect").bounding_box(), await words.bounding_box()
        assert shape is not None and drawn is not None
        assert shape["x"] + shape["width"] - PAD - 3 <= drawn["x"] + drawn["width"] <= shape["x"] + shape["width"]
        code = condition.locator("text.flow-code")
        assert await code.text_content() == "human_offered: true"
        assert await code.evaluate("e => getComputedStyle(e).direction") == "ltr"  # code reads left to right
        for line in await chart.locator("text.flow-name, text.flow-code").all():  # inside the boxes, on the left
            box = await line.bounding_box()
            assert box is not None and box["x"] >= shape["x"] - 1, await line.text_content()
        memory = chart.locator('g[data-kind="slot"] text.flow-meta')
        assert await memory.text_content() == "אין הצעה פתוחה לדבר עם נציג"
        shown = await page.locator("#flow-chart").inner_text()
        assert "= true" not in shown and "= false" not in shown and "slot was set" not in shown.lower()
        assert "only when" not in shown.lower() and "customer says" not in shown.lower()
        await chart.screenshot(path=str(tmp_path / "writers-flow-hebrew-console.png"))
    finally:
        await page.click("#lang-switch-button")  # back to English: the preference outlives this test
        await page.wait_for_load_state()
    assert await page.locator("html").get_attribute("lang") == "en"
    assert page.errors == []


# -- unanswered questions --------------------------------------------------------------------
def _tracker(sender: str, texts: List[tuple[str, str]], start: float = 1_763_900_000) -> str:
    events: List[Dict[str, Any]] = [{"event": "action", "name": "action_session_start"}]
    for i, (text, intent) in enumerate(texts):
        events.append({"event": "user", "text": text, "timestamp": start + i,
                       "parse_data": {"intent": {"name": intent, "confidence": 0.8}}})
        events.append({"event": "action", "name": "action_fallback" if intent == "nlu_fallback"
                       else "action_out_of_scope"})
    return json.dumps({"sender_id": sender, "events": events})


@needs_chromium
async def test_a_writer_turns_an_unanswered_question_into_an_example(
    page: Any, console_service: Service, redis_client: Redis
) -> None:
    question = "תזמינו לי מלון באילת לסוף השבוע"
    await redis_client.set("kesher:tracker:web:a", _tracker("web:a", [
        (question, "out_of_scope"), ("my mail is noa.cohen@example.com, can you book a hotel?", "nlu_fallback")]))
    # Asked again later with a question mark: the group shows (and adds) the most recent wording.
    await redis_client.set("kesher:tracker:telegram:7", _tracker("telegram:7", [(question + "?", "out_of_scope")],
                                                                 start=1_763_900_100))
    await _browser_login(page, WRITER)
    await page.goto("/console/writers/questions")
    groups = page.locator(".question-group")
    assert await groups.count() == 2
    hebrew = groups.filter(has=page.locator('.question[lang="he"]'))
    assert await hebrew.locator(".count").inner_text() == "asked 2 times"
    assert await hebrew.locator(".question").evaluate("e => getComputedStyle(e).direction") == "rtl"
    english = await groups.filter(has=page.locator('.question[lang="en"]')).locator(".question").inner_text()
    assert "noa.cohen" not in english and "•••@•••" in english

    await hebrew.locator("select[name=intent]").select_option("out_of_scope")
    await hebrew.get_by_role("button", name="Add").click()
    await page.wait_for_load_state()
    notice = await page.locator("#added").inner_text()
    assert "out_of_scope" in notice and "data/nlu/he/core.yml:" in notice
    line = int(notice.rsplit(":", 1)[1].rstrip(". "))
    nlu = console_service.content_dir / "data" / "nlu" / "he" / "core.yml"
    try:
        added = nlu.read_text(encoding="utf-8").splitlines()[line - 1].strip()
        assert added == f"- {question}?"
        # Adding it again is refused with the reason, and the file is not touched.
        await page.goto("/console/writers/questions")
        again = page.locator(".question-group").filter(has=page.locator('.question[lang="he"]'))
        await again.locator("select[name=intent]").select_option("out_of_scope")
        await again.get_by_role("button", name="Add").click()
        await page.wait_for_load_state()
        assert "already an example of out_of_scope" in await page.locator("#add-error").inner_text()
    finally:
        shutil.copy(ROOT / "data" / "nlu" / "he" / "core.yml", nlu)
    assert page.errors == []


@needs_chromium
async def test_a_question_whose_offered_faq_the_customer_took_is_added_to_that_faq(
    page: Any, console_service: Service, redis_client: Redis
) -> None:
    question = "how long does delivery take to a lighthouse in a holiday week"
    offered = {"en": "how long does delivery take?", "he": "כמה זמן לוקח משלוח?"}
    start = 1_763_900_200
    events: List[Dict[str, Any]] = [
        {"event": "action", "name": "action_session_start"},
        {"event": "user", "text": question, "timestamp": start,
         "parse_data": {"intent": {"name": "nlu_fallback", "confidence": 0.7},
                        SUGGESTION: make_suggestion("faq/shipping_time", 0.86, offered)}},
        {"event": "action", "name": "action_fallback"},
        {"event": "user", "text": offered["en"], "timestamp": start + 5,  # the customer tapped the offer
         "parse_data": {"intent": {"name": "faq", "confidence": 0.99}}},
        {"event": "action", "name": "utter_faq"},
    ]
    await redis_client.set("kesher:tracker:web:offer", json.dumps({"sender_id": "web:offer", "events": events}))
    await _browser_login(page, WRITER)
    await page.goto("/console/writers/questions")
    group = page.locator(".question-group").filter(has_text="lighthouse")
    assert await group.count() == 1
    assert "1 customer then took the question the bot offered: faq/shipping_time" in \
        await group.locator(".taken-offer").inner_text()
    select = group.locator("select[name=intent]")
    assert await select.input_value() == "faq/shipping_time"  # chosen for the writer, who may change it
    await group.get_by_role("button", name="Add").click()
    await page.wait_for_load_state()
    notice = await page.locator("#added").inner_text()
    assert "faq/shipping_time" in notice and "data/nlu/en/faq.yml:" in notice
    nlu = console_service.content_dir / "data" / "nlu" / "en" / "faq.yml"
    try:
        line = int(notice.rsplit(":", 1)[1].rstrip(". "))
        assert nlu.read_text(encoding="utf-8").splitlines()[line - 1].strip() == f"- {question}"
    finally:
        shutil.copy(ROOT / "data" / "nlu" / "en" / "faq.yml", nlu)
    assert page.errors == []
