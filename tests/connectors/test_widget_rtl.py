"""The widget in headless Chromium, as drawn: right to left that survives names and codes, the newest message in
view, a greeting with quick topics, a corner that does not move; at desktop size and on a 390×844 phone.

The web channel is served with a stand-in bot (``tests.helpers.channels``), embedded by a shop's page on
another loopback origin (``ShopSite``). Expected words come from the catalog.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, AsyncIterator, Dict, Tuple

import pytest
import pytest_asyncio

from connectors.web import WebChannel, free_shipping_threshold
from core.bidi import FSI, PDI
from core.settings import PROJECT_ROOT, Settings
from handoff.identity import conversation_id
from handoff.models import OutboundMessage
from tests.connectors.conftest import WEB_SECRET
from tests.connectors.test_widget_texts import ShopSite
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.channels import ChannelApp, WebCustomer, serving_channel
from tests.helpers.texts import catalog

pytestmark = needs_chromium

DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}

# Where the text of a bubble starts and ends on its first line, and where the name (its first characters) is
# drawn: Range.getClientRects of the characters themselves, not of their element.
_MEASURE = """
([bubble, name]) => {
  const text = bubble.querySelector('.kesher-text');
  const style = getComputedStyle(text);
  const box = text.getBoundingClientRect();
  const left = box.left + parseFloat(style.paddingLeft) + parseFloat(style.borderLeftWidth);
  const right = box.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
  const walker = document.createTreeWalker(text, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const at = node.data.indexOf(name);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + name.length);
    const rects = [...range.getClientRects()];
    const glyph = document.createRange();
    glyph.setStart(node, at);
    glyph.setEnd(node, at + 1);
    const first = glyph.getClientRects()[0];
    return {left, right, nameLeft: Math.min(...rects.map(r => r.left)),
            nameRight: Math.max(...rects.map(r => r.right)), glyphLeft: first.left, glyphRight: first.right,
            dir: getComputedStyle(text).direction};
  }
  return null;
}
"""


@pytest_asyncio.fixture()
async def web(channel_settings: Settings, redis_client: Any) -> AsyncIterator[Tuple[ChannelApp, WebCustomer]]:
    async with serving_channel(lambda rt: WebChannel(WEB_SECRET, allowed_origins="*", rt=rt), channel_settings) as app:
        customer = WebCustomer(app.base)
        yield app, customer
        await customer.close()


@pytest_asyncio.fixture()
async def browser() -> AsyncIterator[Any]:
    async with chromium() as instance:
        yield instance


async def _shop(browser: Any, app: ChannelApp, lang: str, viewport: Dict[str, int] = DESKTOP) -> Any:
    context = await browser.new_context(viewport=viewport, locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.shop = ShopSite(app.base)
    await page.goto(f"{page.shop.base_url}/{lang}")
    await page.locator("#kesher-launcher").wait_for()
    return page


async def _close(page: Any) -> None:
    await page.context.close()
    page.shop.close()


async def _start(page: Any, first: str) -> str:
    """Opens the chat, writes ``first``, waits for the stand-in bot; the conversation's id."""
    await page.click("#kesher-launcher")
    await page.fill("#kesher-input", first)
    await page.press("#kesher-input", "Enter")
    await page.locator(".kesher-msg--bot", has_text="bot:").first.wait_for()
    session = json.loads(await page.evaluate("localStorage.getItem('kesher.web.session')"))["session"]
    return conversation_id("web", session)


async def _tell(app: ChannelApp, cid: str, text: str, *, kind: str = "agent", name: str = "") -> None:
    await app.channel.send(cid, OutboundMessage(message_id=uuid.uuid4().hex, cid=cid, channel="web", text=text,
                                                kind=kind, author_name=name))


async def _newest_in_view(page: Any) -> bool:
    return bool(await page.evaluate("""() => {
      const log = document.getElementById('kesher-log');
      const items = log.querySelectorAll('.kesher-msg');
      const last = items[items.length - 1].getBoundingClientRect();
      const box = log.getBoundingClientRect();
      return last.bottom <= box.bottom + 1 && last.top >= box.top - 1;
    }"""))


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_a_hebrew_line_that_starts_with_a_latin_name_reads_from_the_right(
    browser: Any, web: Tuple[ChannelApp, WebCustomer], viewport: Dict[str, int]
) -> None:
    app, _ = web
    page = await _shop(browser, app, "auto", viewport)
    cid = await _start(page, "שלום, אני רוצה לדבר עם נציג")
    texts = catalog()
    joined = texts.text("agent_joined", "he", agent="Dana")
    assert f"{FSI}Dana{PDI}" in joined  # the catalog isolated the name
    await _tell(app, cid, joined, kind="system")
    typed = "Dana כאן. ההזמנה K-D901A7 בדרך, ותגיע עד יום חמישי."  # as an agent types it: no isolates
    await _tell(app, cid, typed, name="Dana")
    for text in (joined, typed):
        bubble = page.locator(".kesher-msg", has_text=text.split(PDI if PDI in text else "Dana")[-1].strip()).last
        await bubble.wait_for()
        drawn = await bubble.evaluate_handle("e => e")
        measured = await page.evaluate(_MEASURE, [drawn, "Dana"])
        assert measured is not None, text
        assert measured["dir"] == "rtl"
        # The name is the right end of the line; its first glyph is on the right half of the bubble.
        assert measured["right"] - measured["nameRight"] < 2, measured
        assert measured["glyphLeft"] > (measured["left"] + measured["right"]) / 2, measured
    # The reference is one unit on one line.
    code = page.locator(".kesher-msg--agent bdi.kesher-code", has_text="K-D901A7")
    assert await code.evaluate("e => { const r = document.createRange(); r.selectNodeContents(e);"
                               " return r.getClientRects().length; }") == 1
    assert page.errors == []
    await _close(page)


async def test_a_reference_never_breaks_across_lines(browser: Any, web: Tuple[ChannelApp, WebCustomer]) -> None:
    app, _ = web
    page = await _shop(browser, app, "he", PHONE)
    cid = await _start(page, "מה עם ההזמנה שלי?")
    # Long enough to wrap several times on a phone, references wherever the line happens to end.
    words = " ".join(f"מילה{'ה' * (i % 4)} K-D901A7 SORRY-50 noa.cohen@example.com 050-1234567" for i in range(6))
    await _tell(app, cid, words, name="דנה")
    codes = page.locator(".kesher-msg--agent bdi.kesher-code")
    await codes.first.wait_for()
    lines = await codes.evaluate_all("""es => es.map(e => {
      const r = document.createRange(); r.selectNodeContents(e);
      return [e.textContent, new Set([...r.getClientRects()].map(x => Math.round(x.top))).size];
    })""")
    assert len(lines) == 24, lines
    assert all(count == 1 for _, count in lines), lines
    text = page.locator(".kesher-msg--agent .kesher-text").last
    assert await text.evaluate("e => e.getClientRects()[0].height") > 60  # it did wrap
    await _close(page)


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
async def test_the_newest_message_stays_in_view_and_a_button_brings_the_reader_back(
    browser: Any, web: Tuple[ChannelApp, WebCustomer], viewport: Dict[str, int]
) -> None:
    app, _ = web
    page = await _shop(browser, app, "en", viewport)
    cid = await _start(page, "where is my order?")
    long = "Your order is on its way with the courier and should arrive within two business days. " * 3
    # Several at once, as when the bot answers with the status, the queue position and a question.
    for i in range(6):
        await _tell(app, cid, f"{i + 1}. {long}", kind="bot")
    await page.locator(".kesher-msg--bot", has_text="6. Your order").wait_for()
    await page.wait_for_function("""() => { const l = document.getElementById('kesher-log');
      return l.scrollHeight - l.scrollTop - l.clientHeight < 2; }""")
    assert await _newest_in_view(page)
    assert await page.locator("#kesher-jump").is_hidden()

    # The reader scrolls up to read; new messages do not pull them down, a button says they are there.
    await page.evaluate("document.getElementById('kesher-log').scrollTop = 0")
    await page.wait_for_function("() => document.getElementById('kesher-log').scrollTop === 0")
    # A scroll event is dispatched on the next frame: let the widget see it, as it would a reader's wheel.
    await page.evaluate("() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))")
    await _tell(app, cid, "7. The courier called.", kind="bot")
    await _tell(app, cid, "8. Anything else?", kind="bot")
    jump = page.locator("#kesher-jump")
    want = catalog().text("widget_new_messages", "en", count=2)
    await page.locator("#kesher-jump", has_text=want).wait_for()
    assert await page.evaluate("document.getElementById('kesher-log').scrollTop") == 0
    await jump.click()
    await jump.wait_for(state="hidden")
    assert await _newest_in_view(page)
    assert page.errors == []
    await _close(page)


@pytest.mark.parametrize("lang", ["he", "en"])
async def test_the_chat_opens_with_a_greeting_and_quick_topics(
    browser: Any, web: Tuple[ChannelApp, WebCustomer], lang: str
) -> None:
    app, _ = web
    texts = catalog()
    greeting = texts.message("widget_greeting", lang)
    page = await _shop(browser, app, lang, PHONE if lang == "he" else DESKTOP)
    await page.click("#kesher-launcher")
    shown = page.locator(".kesher-msg--greeting")
    await shown.wait_for()
    assert await shown.locator(".kesher-text").text_content() == greeting.text
    topics = shown.locator(".kesher-topics .kesher-button")
    assert await topics.all_text_contents() == [b.title for b in greeting.buttons]
    assert await shown.locator(".kesher-topics").get_attribute("aria-label") == texts.text("widget_topics", lang)
    # What a customer first sees, kept for the README (Hebrew on a phone, English on a desktop).
    await page.screenshot(path=str(PROJECT_ROOT / "docs" / f"widget-{lang}.png"))

    # A topic is sent like a quick reply: its title shows, its payload goes to the bot; the topics go away.
    await topics.first.focus()
    await page.keyboard.press("Enter")
    await page.locator(".kesher-msg--bot", has_text=f"bot: {greeting.buttons[0].payload}").wait_for()
    assert await page.locator(".kesher-msg--customer .kesher-text").all_text_contents() == [greeting.buttons[0].title]
    assert await page.locator(".kesher-topics").count() == 0
    assert await page.evaluate("document.activeElement.id") == "kesher-input"
    assert page.errors == []
    await _close(page)


async def _settled(page: Any) -> None:
    """Wait until the panel's opening pop and the launcher's hover lift have finished (not the typing dots)."""
    await page.evaluate(
        """() => Promise.all(document.getAnimations()
            .filter((a) => a.effect && a.effect.getComputedTiming().iterations !== Infinity)
            .map((a) => a.finished.catch(() => null)))"""
    )


async def test_the_widget_keeps_its_corner_when_the_customer_writes_hebrew(
    browser: Any, web: Tuple[ChannelApp, WebCustomer]
) -> None:
    app, _ = web
    page = await _shop(browser, app, "auto")
    await page.click("#kesher-launcher")
    await _settled(page)
    before = [await page.locator(s).bounding_box() for s in ("#kesher-launcher", "#kesher-panel")]
    assert await page.locator("#kesher-panel").get_attribute("dir") == "ltr"
    await page.fill("#kesher-input", "שלום, איפה ההזמנה שלי?")
    await page.press("#kesher-input", "Enter")
    await page.locator("#kesher-panel[dir='rtl']").wait_for()
    await _settled(page)
    after = [await page.locator(s).bounding_box() for s in ("#kesher-launcher", "#kesher-panel")]
    # the same corner (within a pixel: a Hebrew line's height differs by a fraction of one)
    assert all(abs(a["x"] - b["x"]) < 1 and abs(a["y"] - b["y"]) < 1 for a, b in zip(after, before, strict=True))
    assert before[0]["x"] > DESKTOP["width"] / 2  # bottom right
    await _close(page)


async def test_the_demo_page_gives_the_faqs_free_shipping_amount(
    browser: Any, web: Tuple[ChannelApp, WebCustomer]
) -> None:
    app, _ = web
    faq = (PROJECT_ROOT / "domain" / "faq.yml").read_text(encoding="utf-8")
    amount = free_shipping_threshold(PROJECT_ROOT)
    assert f"free on orders over ₪{amount}" in faq  # read from the answer the bot gives
    context = await browser.new_context(viewport=PHONE, locale="he-IL")
    page = await context.new_page()
    await page.goto(f"{app.base}/demo")
    hero = await page.locator(".hero").inner_text()
    assert hero.count(f"₪{amount}") == 2 and "{{" not in hero  # in English and in Hebrew
    await page.click("#kesher-launcher")
    await page.locator(".kesher-msg--greeting .kesher-topics").wait_for()
    # no data-title on the page: the header names the shop in the customer's language, as the catalog does
    title = page.locator(".kesher-title")
    assert await title.text_content() == catalog().text("widget_bot_name", "en") == "Kesher Shop"
    await page.fill("#kesher-input", "שלום")
    await page.press("#kesher-input", "Enter")
    await page.locator("#kesher-panel[dir='rtl']").wait_for()
    assert await title.text_content() == catalog().text("widget_bot_name", "he") == "חנות קשר"
    await context.close()
