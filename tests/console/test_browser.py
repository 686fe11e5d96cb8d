"""Headless Chromium against the running service: login, live queue, take, chat, close, XSS, Hebrew RTL."""

from __future__ import annotations

import re
from pathlib import Path
from typing import AsyncIterator

import pytest_asyncio
from redis.asyncio import Redis

from console.canned import canned_replies
from core.redis_keys import RedisKeys
from handoff.models import Event, EventKind
from handoff.state import HandoffStore
from tests.console.conftest import PASSWORD, Service, english_request, hebrew_request, new_cid
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.screenshots import row_ink
from tests.helpers.texts import catalog
from tests.helpers.waiting import until

pytestmark = needs_chromium

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


@pytest_asyncio.fixture()
async def browser() -> AsyncIterator:
    async with chromium() as instance:
        yield instance


@pytest_asyncio.fixture()
async def page(browser, console_service: Service):
    context = await browser.new_context(base_url=console_service.base_url, viewport={"width": 1440, "height": 900},
                                        locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    page.csp_errors = []
    page.on("console", lambda m: page.csp_errors.append(m.text)
            if m.type == "error" and "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: page.csp_errors.append(f"page error: {e}"))
    yield page
    await context.close()


async def _login(page, agent_id: str = "dana", password: str = PASSWORD) -> None:
    await page.goto("/console/login")
    await page.fill("#agent_id", agent_id)
    await page.fill("#password", password)
    await page.click("#login")


async def _desk(page, agent_id: str = "dana") -> None:
    await _login(page, agent_id)
    await page.wait_for_selector("#queue-title")
    await page.click('#presence button[data-status="online"]')
    await page.wait_for_selector('#presence[data-status="online"]')
    await page.wait_for_selector('#conn[data-state="live"]')


async def _take(page, cid: str) -> None:
    row = page.locator(f'#queue-body tr[data-cid="{cid}"]')
    await row.wait_for()
    await row.locator("button.take").click()
    await page.wait_for_selector('#chat-state[data-state="with_agent"]')
    # Locator waits, not wait_for_function: the console's CSP forbids the eval a polled expression needs.
    await page.locator("#chat-state", has_text=re.compile(r"^with you$")).wait_for()


async def test_login_errors_and_logout(page, console_service: Service, redis_client: Redis):
    await page.goto("/console")
    assert page.url.endswith("/console/login")
    await _login(page, "dana", "wrong-password")
    error = page.locator("#login-error")
    await error.wait_for()
    assert "Wrong agent id or password." in await error.text_content()
    # Whoever forgot the password reads who can set a new one.
    assert "Ask a supervisor" in (await page.locator("#login-forgot").text_content() or "")

    await _login(page, "dana")
    await page.wait_for_selector("#queue-title")
    assert page.url.rstrip("/").endswith("/console")
    assert "Dana Levi" in await page.locator(".agent-name").text_content()
    cookies = {c["name"]: c for c in await page.context.cookies()}
    assert cookies["kesher_session"]["httpOnly"] is True
    assert cookies["kesher_session"]["sameSite"] == "Strict"

    await page.click("#logout")
    await page.wait_for_selector("#login")
    assert page.url.endswith("/console/login")
    await page.goto("/console")
    assert page.url.endswith("/console/login")
    assert page.csp_errors == []


async def test_queue_take_chat_close(
    page, console_service: Service, live_store: HandoffStore, redis_client: Redis, tmp_path: Path
):
    await _desk(page)
    he_cid, en_cid = new_cid("he"), new_cid("en")
    await live_store.request(hebrew_request(he_cid, console_service.orders.get("he")))
    await live_store.request(english_request(en_cid, console_service.orders.get("en")))

    # both appear live, without a reload, with their details
    he_row = page.locator(f'#queue-body tr[data-cid="{he_cid}"]')
    en_row = page.locator(f'#queue-body tr[data-cid="{en_cid}"]')
    await he_row.wait_for()
    await en_row.wait_for()
    assert "HE" in await he_row.text_content()
    en_text = await en_row.text_content()
    texts = catalog()
    channel, topic = texts.text("console_dash_channel_telegram", "en"), texts.text("console_topic_returns", "en")
    assert channel in en_text and "explicit request" in en_text and topic in en_text  # codes by their names
    # the wait time ticks in the page
    await page.locator(f"#queue-body tr[data-cid='{en_cid}'] td.wait",
                       has_text=re.compile(r"^(?!0:0[01]$)\d+:\d\d$")).wait_for(timeout=6000)
    assert page.csp_errors == []

    await _take(page, en_cid)
    await en_row.wait_for(state="detached")
    assert await page.locator(f'#my-chats li[data-cid="{en_cid}"]').count() == 1
    # Nothing answers on the service's Rasa port: the bot's transcript is said to be unavailable.
    await page.locator("#transcript", has_text=re.compile("unavailable", re.IGNORECASE)).wait_for()
    await page.locator("#panel-body .orders").wait_for()

    question = "Hi, the blender arrived with a cracked jug. Can you send a new one?"
    await live_store.add_event(en_cid, Event(kind=EventKind.CUSTOMER, text=question, author="customer"))
    bubble = page.locator("#events .msg-customer .bubble", has_text="cracked jug")
    await bubble.wait_for()
    assert await bubble.count() == 1
    drawn = await row_ink(page, bubble, page.locator("#events"), path=tmp_path / "console-english.png")
    assert drawn.left_gap < 0.06 * drawn.box["width"] and drawn.right_gap > 0.2 * drawn.box["width"], drawn

    reply = "So sorry about that! I'm sending a replacement jug by express today."
    await page.fill("#composer-text", reply)
    await page.press("#composer-text", "Enter")
    await page.locator("#events .msg-agent .bubble", has_text="replacement jug").wait_for()
    # A marker sent after the reply comes down the same feed: once it is shown, any echo of the reply is too.
    await live_store.add_event(en_cid, Event(kind=EventKind.CUSTOMER, text="marker after the reply", author="customer"))
    await page.locator("#events .bubble", has_text="marker after the reply").wait_for()
    assert await page.locator("#events .msg-agent .bubble", has_text="replacement jug").count() == 1
    outbound = await redis_client.xrange(RedisKeys().outbound())
    sent = [f for _, f in outbound if f["text"] == reply]
    assert len(sent) == 1 and sent[0]["cid"] == en_cid and sent[0]["kind"] == "agent"

    await page.fill("#composer-text", "Replacement approved by stock team")
    await page.click("#note-button")
    note = page.locator("#events .msg-note")
    await note.wait_for()
    assert "Internal note" in await note.locator(".msg-meta").text_content()
    assert not [f for _, f in await redis_client.xrange(RedisKeys().outbound()) if "stock team" in f["text"]]

    await page.click("#tools-toggle")  # transfer and close fold away under the composer
    await page.select_option("#close-resolution", "replacement_sent")
    await page.fill("#close-summary", "A replacement jug ships today by express.")
    await page.fill("#close-next", "You'll get the tracking number by SMS.")
    await page.click("#close-button")
    await page.wait_for_selector('#chat-state[data-state="closed"]')

    async def closed() -> bool:
        conv = await live_store.get(en_cid)
        return conv is not None and conv.state == "closed"

    await until(closed, what=f"{en_cid} closed in the store")
    conv = await live_store.get(en_cid)
    assert conv is not None and conv.resolution == "replacement_sent" and conv.agent_id == "dana"
    await page.locator(f'#my-chats li[data-cid="{en_cid}"]').wait_for(state="detached")
    assert await he_row.count() == 1  # the other one still waits
    assert page.csp_errors == []


async def test_customer_xss_payload_is_shown_as_text(
    page, console_service: Service, live_store: HandoffStore, redis_client: Redis
):
    await _desk(page)
    cid = new_cid("xss")
    request = english_request(cid)
    request.customer_name = '<b onmouseover="window.__xss=3">Eve</b>'
    request.asked = [XSS]
    await live_store.request(request)
    await _take(page, cid)
    await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, text=XSS, author="customer"))
    bubble = page.locator("#events .msg-customer .bubble").last
    await bubble.wait_for()
    assert await bubble.text_content() == XSS
    # No element was made from the text, so no handler of it can ever run.
    assert await page.locator("#events img, #events script, #panel-body img, #queue img").count() == 0
    assert await page.evaluate("typeof window.__xss") == "undefined"
    assert await page.locator("#chat-title").text_content() == request.customer_name
    assert page.csp_errors == []


async def test_hebrew_is_right_to_left_and_canned_reply_in_hebrew(
    page, console_service: Service, live_store: HandoffStore, redis_client: Redis, tmp_path: Path
):
    await _desk(page)
    cid = new_cid("rtl")
    await live_store.request(hebrew_request(cid, console_service.orders.get("he")))
    await _take(page, cid)
    text = "שלום, ההזמנה שלי מתעכבת כבר שבוע ואף אחד לא עונה לי. מה קורה?"
    await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, text=text, author="customer"))
    bubble = page.locator("#events .msg-customer .bubble", has_text="ההזמנה שלי")
    await bubble.wait_for()
    direction = await bubble.evaluate("el => getComputedStyle(el).direction")
    assert direction == "rtl"
    # The transcript is laid out in the console's language (Dana's is English): own messages at its end side.
    assert await page.locator("#log").evaluate("el => getComputedStyle(el).direction") == "ltr"

    late = next(c for c in canned_replies(catalog()) if c.shortcut == "late")
    await page.click("#composer-text")
    await page.keyboard.type("/la")
    await page.locator('#suggestions li[data-shortcut="late"]').wait_for()
    await page.keyboard.press("Tab")
    assert await page.input_value("#composer-text") == late.he
    assert await page.locator("#composer-text").evaluate("el => getComputedStyle(el).direction") == "rtl"

    await page.fill("#composer-text", "")
    await page.keyboard.type("/hi ")
    hi = next(c for c in canned_replies(catalog()) if c.shortcut == "hi")
    assert await page.input_value("#composer-text") == hi.he.replace("{agent}", "Dana")

    await page.press("#composer-text", "Enter")
    agent_bubble = page.locator("#events .msg-agent .bubble", has_text="כאן Dana")
    await agent_bubble.wait_for()
    assert await agent_bubble.evaluate("el => getComputedStyle(el).direction") == "rtl"

    # As drawn in an English console: the customer's Hebrew bubble against the left edge of the chat, the
    # agent's own reply against the right (as in Chatwoot and Zendesk), each with room on the other side;
    # a Hebrew console is the mirror image (tests/console/test_desk_browser.py).
    shot = tmp_path / "console-hebrew-rtl.png"
    events = page.locator("#events")
    customer = await row_ink(page, bubble, events, path=shot)
    width = customer.box["width"]
    assert customer.left_gap < 0.06 * width and customer.right_gap > 0.2 * width, customer
    agent = await row_ink(page, agent_bubble, events)
    assert agent.right_gap < 0.06 * width and agent.left_gap > 0.15 * width, agent
    print(f"screenshot: {shot}")
    assert page.csp_errors == []


# Wraps the page's WebSocket so a test can drop the connection and keep it down for a while.
TRACK_SOCKETS = """
(() => {
  const Native = window.WebSocket;
  window.__sockets = [];
  window.__blockWs = false;
  class Tracked extends Native {
    constructor(url, protocols) {
      super(window.__blockWs ? String(url).replace('/console/ws', '/console/ws-down') : url, protocols);
      window.__sockets.push(this);
    }
  }
  window.WebSocket = Tracked;
})();
"""


async def test_reconnect_shows_missed_messages_once(
    page, console_service: Service, live_store: HandoffStore, redis_client: Redis
):
    await page.add_init_script(TRACK_SOCKETS)
    await _desk(page)
    cid = new_cid("recon")
    await live_store.request(english_request(cid))
    await _take(page, cid)
    await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, text="first message", author="customer"))
    await page.locator("#events .bubble", has_text="first message").wait_for()

    # drop the live connection and keep it down while the customer writes
    await page.evaluate("window.__blockWs = true; window.__sockets[window.__sockets.length - 1].close()")
    await page.wait_for_selector('#conn[data-state="offline"]')
    await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, text="sent while you were away", author="customer"))
    other = new_cid("recon2")
    await live_store.request(hebrew_request(other))
    # While it is down, the page tries to reconnect (each try a new socket): two failed tries later it has still
    # shown nothing of what was sent meanwhile.
    tried = await page.evaluate("window.__sockets.length")
    await until(lambda: page.evaluate(f"window.__sockets.length >= {tried + 2}"), what="two reconnection attempts",
                timeout=30)
    assert await page.locator("#events .bubble", has_text="sent while you were away").count() == 0

    # back up: the page reconnects by itself, reloads the queue and catches up on the chat
    await page.evaluate("window.__blockWs = false")
    await page.locator("#events .bubble", has_text="sent while you were away").wait_for(timeout=20_000)
    await page.locator(f'#queue-body tr[data-cid="{other}"]').wait_for()
    await page.wait_for_selector('#conn[data-state="live"]')
    await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, text="and after", author="customer"))
    await page.locator("#events .bubble", has_text="and after").wait_for()
    await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, text="last marker", author="customer"))
    await page.locator("#events .bubble", has_text="last marker").wait_for()  # duplicates would be shown by now
    for text in ("first message", "sent while you were away", "and after"):
        assert await page.locator("#events .bubble", has_text=text).count() == 1, text
