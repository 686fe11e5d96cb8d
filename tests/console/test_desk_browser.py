"""The desk in headless Chromium (Debian's) at 1280×800, in English and in Hebrew.

What an agent would notice: three panes that fit the window with nothing cut off, the
newest message in view and the composer on screen, "My chats" with name, timer and last
message, own messages at the end side (right in English, left in Hebrew), alerts for a new
or assigned chat (sound, title badge, a desktop notification only after "enable", a toast),
the transfer list's presence and load, search that opens someone else's chat read-only, the
"/" list in the agent's language with a preview, the composer's hint back in the
console's alignment after a Hebrew note, the customer's e-mail address on one unbroken line,
and no channel, topic, team or order status shown as its English code on the Hebrew desk. The
screenshots are kept in ``docs/`` (``console-en.png``, ``console-he.png``) for the README.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import replace
from typing import Any, AsyncIterator, Dict, List

import pytest_asyncio
from redis.asyncio import Redis

from console.canned import canned_replies
from core.redis_keys import RedisKeys
from core.settings import PROJECT_ROOT
from handoff.models import Event, EventKind
from handoff.state import HandoffStore
from tests.console.conftest import PASSWORD, Service, english_request, hebrew_request, new_cid
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.screenshots import Ink, box_ink, find_ink, row_ink
from tests.helpers.texts import catalog

pytestmark = needs_chromium

DOCS = PROJECT_ROOT / "docs"
# Channels, routing topics, teams and order statuses as the server sends them: never shown as such in Hebrew.
RAW_CODES = re.compile(r"\b(?:web|telegram|whatsapp|kesher_\w+|(?-i:rest|callback)|orders|returns|payments|account|"
                       r"general|billing|processing|shipped|delayed|delivered|cancelled|returned)\b", re.IGNORECASE)
VIEWPORT: Dict[str, float] = {"width": 1280, "height": 800}

# A stand-in for the browser's Notification API that records what the page asks and shows, and a
# switch for "the agent is looking elsewhere" (headless Chromium always has the focus).
FAKE_NOTIFICATIONS = """
(() => {
  window.__asked = 0;
  window.__notes = [];
  window.__away = false;
  class FakeNotification {
    constructor(title, options) { window.__notes.push(options.body); this.listeners = {}; }
    addEventListener() {}
    close() {}
    static requestPermission() {
      window.__asked += 1;
      FakeNotification.permission = "granted";
      return Promise.resolve("granted");
    }
  }
  FakeNotification.permission = "default";
  window.Notification = FakeNotification;
  const hasFocus = document.hasFocus.bind(document);
  document.hasFocus = () => !window.__away && hasFocus();
})();
"""


@pytest_asyncio.fixture()
async def browser() -> AsyncIterator[Any]:
    async with chromium() as instance:
        yield instance


async def _page(browser: Any, console_service: Service, *, init: str = "") -> Any:
    context = await browser.new_context(base_url=console_service.base_url, viewport=VIEWPORT, locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    if init:
        await page.add_init_script(init)
    return page


async def _desk(page: Any, agent_id: str) -> None:
    await page.goto("/console/login")
    await page.fill("#agent_id", agent_id)
    await page.fill("#password", PASSWORD)
    await page.click("#login")
    await page.wait_for_selector("#queue-title")
    await page.click('#presence button[data-status="online"]')
    await page.wait_for_selector('#presence[data-status="online"]')
    await page.wait_for_selector('#conn[data-state="live"]')


async def _take(page: Any, cid: str) -> None:
    row = page.locator(f'#queue-body tr[data-cid="{cid}"]')
    await row.locator("button.take").click()
    await page.locator(f'#my-chats li[data-cid="{cid}"]').wait_for()
    await page.wait_for_selector('#chat-state[data-state="with_agent"]')


async def _box(locator: Any) -> Dict[str, float]:
    box: Dict[str, float] | None = await locator.bounding_box()
    assert box is not None, locator
    return box


def _inside(inner: Dict[str, float], outer: Dict[str, float], slack: float = 1.0) -> bool:
    return (inner["x"] >= outer["x"] - slack and inner["y"] >= outer["y"] - slack
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + slack
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + slack)


async def _hint_lines(page: Any, textarea: Any) -> List[Ink]:
    """Where each line of the empty composer's hint is drawn (the hint wraps), inside its border and padding."""
    box = await _box(textarea)
    png = await page.screenshot()
    half = (box["height"] - 12) / 2
    lines = [find_ink(png, {"x": box["x"] + 6, "y": box["y"] + 6 + n * half, "width": box["width"] - 12,
                            "height": half}) for n in range(2)]
    drawn = [line for line in lines if line is not None]
    assert drawn, f"no hint drawn in {box}"
    return drawn


def _starts_left(lines: List[Ink]) -> bool:
    """Every line starts at the left edge and one ends well before the right: a left-to-right paragraph."""
    width = lines[0].box["width"]
    return all(line.left_gap < 0.05 * width for line in lines) and any(line.right_gap > 0.15 * width for line in lines)


def _starts_right(lines: List[Ink]) -> bool:
    width = lines[0].box["width"]
    return all(line.right_gap < 0.05 * width for line in lines) and any(line.left_gap > 0.15 * width for line in lines)


async def test_the_desk_fits_1280x800_in_english_and_hebrew(
    browser: Any, console_service: Service, live_store: HandoffStore, redis_client: Redis
):
    texts = catalog()
    for language, agent_id in (("en", "sarah"), ("he", "omer")):
        page = await _page(browser, console_service)
        await _desk(page, agent_id)
        if language == "he":  # the agent's own choice, from the switch in the top bar
            await page.click("#lang-switch-button")
            await page.wait_for_selector('html[lang="he"][dir="rtl"]')
            await page.wait_for_selector('#conn[data-state="live"]')
            assert await page.locator("#queue-title").evaluate("el => el.firstChild.textContent.trim()") \
                == texts.text("console_queue_title", "he")
        make = hebrew_request if language == "he" else english_request
        waiting = [new_cid(f"fit-{language}") for _ in range(3)]
        for n, cid in enumerate(waiting):  # one came through the REST channel: its name, not "rest", on the desk
            request = make(cid, console_service.orders.get(language))
            await live_store.request(replace(request, channel="kesher_rest") if n == 0 else request)
        other, cid = new_cid(f"fit-{language}"), new_cid(f"fit-{language}")
        await live_store.request(make(other))
        opened = make(cid, console_service.orders.get(language))
        await live_store.request(opened)
        for each in (other, cid):
            await page.locator(f'#queue-body tr[data-cid="{each}"]').wait_for()
        await _take(page, other)
        await _take(page, cid)

        # a long conversation: the transcript must open at its newest message
        lines = (["ההזמנה שלי עדיין לא הגיעה, מה קורה?", "בודקים מול חברת השילוח ומעדכנים מיד."] if language == "he"
                 else ["My order still hasn't arrived, what's going on?", "Checking with the courier now."])
        for n in range(14):
            await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, author="customer", text=f"{lines[0]} ({n})"))
        await page.locator("#events .msg-customer .bubble", has_text="(13)").wait_for()
        await page.fill("#composer-text", lines[1])
        await page.press("#composer-text", "Enter")
        own = page.locator("#events .msg-agent.own .bubble", has_text=lines[1])
        await own.wait_for()
        await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, author="customer", text=f"{lines[0]} (last)"))
        newest = page.locator("#events .msg-customer .bubble", has_text="(last)")
        await newest.wait_for()
        await page.locator("#panel-body .facts").wait_for()
        await page.locator("#panel-body table.orders").wait_for()
        await page.locator("#order-actions .order-action").first.wait_for()

        # the e-mail address on one line, never broken mid-address: cut with "…" when long, whole in its title
        email = page.locator("#panel-body .facts dd.unbroken", has_text="@")
        assert await email.get_attribute("title") == opened.email
        assert await email.evaluate("el => el.clientHeight < 1.5 * (parseFloat(getComputedStyle(el).lineHeight) || 20)")

        if language == "he":  # codes from the server (channel, topic, team, an order's status) shown in Hebrew
            for where in ("#queue-body", "#my-chats", "#chat-meta", "#panel-body", "#order-actions"):
                shown = await page.locator(where).inner_text()
                raw = RAW_CODES.findall(shown)
                assert raw == [], (where, raw, shown)
            seeded = console_service.orders[language]
            assert texts.text(f"status_{seeded['status']}", "he") in \
                await page.locator("#panel-body table.orders").inner_text()

        # nothing scrolls but the panes, and each pane is inside the window
        size = await page.evaluate("() => [document.documentElement.scrollWidth, "
                                   "document.documentElement.scrollHeight]")
        assert size[0] <= VIEWPORT["width"] and size[1] <= VIEWPORT["height"], size
        window: Dict[str, float] = {"x": 0, "y": 0, **VIEWPORT}
        for pane in (".desk > .left", "#chat", "#panel"):
            assert _inside(await _box(page.locator(pane)), window), pane
        # the queue's columns are all there: no horizontal overflow, every "Take" button inside its pane
        queue = page.locator(".queue-section")
        assert await queue.evaluate("el => el.scrollWidth <= el.clientWidth")
        queue_box = await _box(queue)
        for take in await page.locator("#queue-body button.take").all():  # (the list itself may scroll)
            box = await _box(take)
            assert queue_box["x"] <= box["x"] and box["x"] + box["width"] <= queue_box["x"] + queue_box["width"]
        # the composer and its buttons are on screen; the log is at its newest message
        for control in ("#composer-text", "#send-button", "#note-button"):
            assert _inside(await _box(page.locator(control)), window), control
        log = page.locator("#log")
        assert await log.evaluate("el => el.scrollHeight > el.clientHeight")  # it did overflow
        assert await log.evaluate("el => el.scrollHeight - el.scrollTop - el.clientHeight < 4")
        assert _inside(await _box(newest), await _box(log))

        # "My chats": name, a ticking timer and the last message
        item = page.locator(f'#my-chats li[data-cid="{cid}"]')
        assert await item.locator(".who").text_content() == opened.customer_name
        name, card = await _box(item.locator(".who")), await _box(item.locator("button"))
        if language == "en":  # the name at the start side of its card
            assert name["x"] - card["x"] < 20, (name, card)
        else:
            assert card["x"] + card["width"] - (name["x"] + name["width"]) < 20, (name, card)
        assert re.fullmatch(r"\d+:\d\d", await item.locator(".timer").text_content() or "")
        assert await item.locator(".preview").text_content() == f"{lines[0]} (last)"

        # own messages at the end side: right in English, left in Hebrew; the customer's at the start
        events = page.locator("#events")
        shot = DOCS / f"console-{language}.png"
        mine = await row_ink(page, own, events)
        theirs = await row_ink(page, newest, events, path=shot)
        width = mine.box["width"]
        if language == "en":
            assert mine.right_gap < 0.06 * width < 0.2 * width < mine.left_gap, mine
            assert theirs.left_gap < 0.06 * width < 0.2 * width < theirs.right_gap, theirs
        else:
            assert mine.left_gap < 0.06 * width < 0.2 * width < mine.right_gap, mine
            assert theirs.right_gap < 0.06 * width < 0.2 * width < theirs.left_gap, theirs
        # the kept screenshot shows all three panes drawn
        for pane in (".desk > .left", "#chat", "#panel"):
            drawn = await box_ink(page, page.locator(pane))
            assert drawn.share > 0.01, (pane, drawn)
        assert page.problems == [], page.problems
        await page.context.close()


async def test_a_new_or_assigned_chat_alerts_the_agent(
    browser: Any, console_service: Service, live_store: HandoffStore, redis_client: Redis
):
    texts = catalog()
    page = await _page(browser, console_service, init=FAKE_NOTIFICATIONS)
    await _desk(page, "sarah")  # the click on "Online" also lets the page play sounds
    title = await page.title()
    enable = page.locator("#notify-enable")
    await enable.wait_for()
    assert await enable.text_content() == texts.text("console_notify_enable", "en")
    assert await page.evaluate("window.__asked") == 0  # never asked before the agent clicks
    await enable.click()
    await enable.wait_for(state="hidden")
    assert await page.evaluate("window.__asked") == 1
    await page.locator("#toast", has_text=texts.text("console_notify_on", "en")).wait_for()

    # the agent looks elsewhere; a chat joins the queue: a sound, the badge, a notification
    await page.evaluate("window.__away = true")
    queued = new_cid("alert")
    await live_store.request(english_request(queued))
    await page.locator(f'#queue-body tr[data-cid="{queued}"]').wait_for()
    await page.wait_for_selector('html[data-chimes="1"]')
    assert await page.title() == f"(1) {title}"
    assert await page.evaluate("window.__notes") == [
        texts.text("console_notify_new_chat", "en", who="James Miller")]

    # the assigner gives her another one: a toast too, and the chat counts as unread
    assigned = new_cid("alert")
    await live_store.request(english_request(assigned))
    await page.wait_for_selector('html[data-chimes="2"]')
    result = await live_store.take(assigned, "sarah", "Sarah Cohen", 2)
    assert result.ok
    said = texts.text("console_notify_assigned", "en", who="James Miller")
    await page.locator("#toast", has_text=said).wait_for()
    await page.wait_for_selector('html[data-chimes="3"]')
    assert (await page.evaluate("window.__notes"))[-1] == said
    await page.locator(f'#my-chats li.unread[data-cid="{assigned}"]').wait_for()
    assert await page.title() == f"(3) {title}"  # two arrivals not yet seen and one unread chat

    # she looks back: the arrivals count as seen; opening the chat clears the rest
    await page.evaluate("window.__away = false; window.dispatchEvent(new Event('focus'))")
    await page.wait_for_selector('html[data-unread="1"]')
    await page.locator(f'#my-chats li[data-cid="{assigned}"] button').click()
    await page.wait_for_selector('html[data-unread="0"]')
    assert await page.title() == title
    # taking a chat herself is no surprise: no toast or notification for it
    notes = len(await page.evaluate("window.__notes"))
    await _take(page, queued)
    await page.locator(f'#my-chats li[data-cid="{queued}"]').wait_for()
    assert len(await page.evaluate("window.__notes")) == notes
    assert page.problems == [], page.problems
    await page.context.close()


async def test_search_opens_another_agents_chat_read_only_and_the_transfer_list_shows_presence_and_load(
    browser: Any, console_service: Service, live_store: HandoffStore, redis_client: Redis
):
    texts = catalog()
    cid = new_cid("find")
    request = hebrew_request(cid)
    request.customer_name = "מיכל אברהם"
    await live_store.request(request)
    page = await _page(browser, console_service)
    await _desk(page, "dana")  # a supervisor reads every conversation
    keys = RedisKeys()
    await redis_client.hset(keys.agent("omer"), mapping={"status": "online"})  # Omer is online elsewhere
    await redis_client.sadd(keys.agents_online(), "omer")
    assert (await live_store.take(cid, "omer", "Omer Katz", 3)).ok
    await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, author="customer", text="המכסה של הקומקום חסר"))

    await page.fill("#search-text", "קומקום")
    await page.press("#search-text", "Enter")
    hit = page.locator(f'#search-list li[data-cid="{cid}"]')
    await hit.wait_for()
    assert texts.text("console_search_readonly", "en") in (await hit.text_content() or "")
    assert "המכסה של הקומקום חסר" in (await hit.text_content() or "")
    await hit.locator("button").click()
    await page.locator("#events .msg-customer .bubble", has_text="הקומקום").wait_for()
    assert await page.locator("#chat-title").text_content() == "מיכל אברהם"
    assert await page.locator("#send-button").is_disabled()
    assert await page.locator("#composer.readonly").count() == 1

    await page.fill("#search-text", "nothing-like-this")
    await page.press("#search-text", "Enter")
    await page.locator("#search-empty").wait_for()

    await page.click("#tools-toggle")
    omer = page.locator('#transfer-agents option[value="agent:omer"]')
    await page.locator('#transfer-agents option[value="agent:omer"][data-presence="online"]').wait_for(state="attached")
    assert await omer.text_content() == texts.text("console_transfer_agent_option", "en", name="Omer Katz",
                                                   presence="online", load=1, capacity=3)
    sarah = page.locator('#transfer-agents option[value="agent:sarah"]')
    assert await sarah.text_content() == texts.text("console_transfer_agent_option", "en", name="Sarah Cohen",
                                                    presence="offline", load=0, capacity=2)
    assert page.problems == [], page.problems
    await page.context.close()


async def test_canned_list_in_the_agents_language_and_the_hint_back_in_place_after_a_hebrew_note(
    browser: Any, console_service: Service, live_store: HandoffStore, redis_client: Redis
):
    texts = catalog()
    late = next(c for c in canned_replies(texts) if c.shortcut == "late")
    # Sarah's console is English: a Hebrew note, then the empty composer's English hint is on the left again
    page = await _page(browser, console_service)
    await _desk(page, "sarah")
    cid = new_cid("hint")
    await live_store.request(english_request(cid))
    await page.locator(f'#queue-body tr[data-cid="{cid}"]').wait_for()
    await _take(page, cid)
    composer = page.locator("#composer-text")
    await page.fill("#composer-text", "הלקוח ביקש שיחזרו אליו מחר בבוקר")
    await page.click("#note-button")
    await page.locator("#events .msg-note").wait_for()
    # the composer empties once the server took the note (the note may reach the transcript first, by the feed)
    await page.wait_for_function("document.querySelector('#composer-text').value === ''")
    assert await composer.evaluate("el => getComputedStyle(el).direction") == "ltr"
    lines = await _hint_lines(page, composer)
    assert _starts_left(lines), lines

    # the "/" list: titles in the console's language, each with a preview in the conversation's
    await page.click("#composer-text")
    await page.keyboard.type("/la")
    option = page.locator('#suggestions li[data-shortcut="late"]')
    await option.wait_for()
    assert await option.locator(".title").text_content() == late.title("en")
    assert await option.locator(".preview").text_content() == late.en
    await page.context.close()

    # Omer reads the console in Hebrew (his choice, remembered): Hebrew titles, the hint on the right
    await redis_client.set(RedisKeys().console_ui_language("omer"), "he")
    page = await _page(browser, console_service)
    await _desk(page, "omer")
    cid = new_cid("hint")
    await live_store.request(hebrew_request(cid))
    await page.locator(f'#queue-body tr[data-cid="{cid}"]').wait_for()
    await _take(page, cid)
    await page.click("#composer-text")
    await page.keyboard.type("/la")
    option = page.locator('#suggestions li[data-shortcut="late"]')
    await option.wait_for()
    assert await option.locator(".title").text_content() == late.title("he")
    assert await option.locator(".preview").text_content() == late.he
    await page.keyboard.press("Escape")
    await page.fill("#composer-text", "")
    composer = page.locator("#composer-text")
    lines = await _hint_lines(page, composer)
    assert _starts_right(lines), lines
    assert page.problems == [], page.problems
    await page.context.close()


async def test_a_message_that_comes_while_a_chat_is_opening_is_shown(
    browser: Any, console_service: Service, live_store: HandoffStore
):
    """The customer writes between the take and the conversation's arrival (a slow network): it is shown."""
    page = await _page(browser, console_service)
    await _desk(page, "sarah")
    cid = new_cid("slow-open")
    await live_store.request(english_request(cid))
    row = page.locator(f'#queue-body tr[data-cid="{cid}"]')
    await row.wait_for()
    asked, answer = asyncio.Event(), asyncio.Event()

    async def late(route: Any) -> None:
        asked.set()
        await answer.wait()
        await route.continue_()

    await page.route(f"**/console/api/chats/{cid}", late)
    await row.locator("button.take").click()
    await asyncio.wait_for(asked.wait(), 10)  # the chat is the agent's; its details are on their way
    await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, author="customer", text="Hello? (while opening)"))
    bubble = page.locator("#events .msg-customer .bubble", has_text="(while opening)")
    try:
        await bubble.wait_for()
    finally:
        answer.set()
    await page.wait_for_selector('#chat-state[data-state="with_agent"]')
    await bubble.wait_for()
    assert page.problems == [], page.problems
    await page.context.close()
