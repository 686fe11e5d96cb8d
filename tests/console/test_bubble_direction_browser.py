"""The console in headless Chromium, as drawn: a Hebrew bubble that starts with a Latin name reads from the right.

Measured on the characters themselves (a Range's getClientRects): the name ends at the bubble's right edge and
its first glyph is on the bubble's right half, for what the customer wrote, for the agent's reply and for the
catalog's notice with the name isolated.
"""

from __future__ import annotations

import re
from typing import Any, AsyncIterator, Dict

import pytest_asyncio

from handoff.models import Event, EventKind
from handoff.state import HandoffStore
from tests.console.conftest import PASSWORD, Service, hebrew_request, new_cid
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.texts import catalog

pytestmark = needs_chromium

# The console's CSP forbids eval, so the measurement is a function Playwright passes as such.
_MEASURE = """
(bubble) => {
  const name = bubble.getAttribute('data-name') || 'Dana';
  const style = getComputedStyle(bubble);
  const box = bubble.getBoundingClientRect();
  const left = box.left + parseFloat(style.paddingLeft) + parseFloat(style.borderLeftWidth);
  const right = box.right - parseFloat(style.paddingRight) - parseFloat(style.borderRightWidth);
  const walker = document.createTreeWalker(bubble, NodeFilter.SHOW_TEXT);
  let node;
  while ((node = walker.nextNode())) {
    const at = node.data.indexOf(name);
    if (at < 0) continue;
    const range = document.createRange();
    range.setStart(node, at);
    range.setEnd(node, at + name.length);
    const glyph = document.createRange();
    glyph.setStart(node, at);
    glyph.setEnd(node, at + 1);
    const rects = [...range.getClientRects()];
    return {left, right, nameRight: Math.max(...rects.map(r => r.right)), glyphLeft: glyph.getClientRects()[0].left,
            dir: style.direction};
  }
  return null;
}
"""


@pytest_asyncio.fixture()
async def page(console_service: Service) -> AsyncIterator[Any]:
    async with chromium() as browser:
        context = await browser.new_context(base_url=console_service.base_url,
                                            viewport={"width": 1280, "height": 800}, locale="en-GB")
        page = await context.new_page()
        page.set_default_timeout(10_000)
        page.errors = []
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        yield page
        await context.close()


async def _reads_from_the_right(bubble: Any) -> Dict[str, Any]:
    measured: Dict[str, Any] = await bubble.evaluate(_MEASURE)
    assert measured is not None
    assert measured["dir"] == "rtl", measured
    assert measured["right"] - measured["nameRight"] < 2, measured
    assert measured["glyphLeft"] > (measured["left"] + measured["right"]) / 2, measured
    return measured


async def test_a_hebrew_bubble_that_starts_with_a_latin_name_reads_from_the_right(
    page: Any, console_service: Service, live_store: HandoffStore
) -> None:
    await page.goto("/console/login")
    await page.fill("#agent_id", "dana")
    await page.fill("#password", PASSWORD)
    await page.click("#login")
    await page.wait_for_selector("#queue-title")
    await page.click('#presence button[data-status="online"]')
    await page.wait_for_selector('#conn[data-state="live"]')
    cid = new_cid("bidi")
    await live_store.request(hebrew_request(cid, console_service.orders.get("he")))
    row = page.locator(f'#queue-body tr[data-cid="{cid}"]')
    await row.wait_for()
    await row.locator("button.take").click()
    await page.locator("#chat-state", has_text=re.compile(r"\S")).wait_for()
    await page.wait_for_selector('#chat-state[data-state="with_agent"]')

    # The customer writes a Hebrew line that opens with a Latin name; the agent answers likewise.
    await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, text="Dana, ההזמנה שלי עדיין לא הגיעה אליי",
                                          author="customer"))
    customer = page.locator("#events .msg-customer .bubble", has_text="ההזמנה שלי עדיין")
    await customer.wait_for()
    await _reads_from_the_right(customer)

    await page.fill("#composer-text", "Dana כאן, אני בודקת את זה עכשיו")
    await page.keyboard.press("Enter")
    agent = page.locator("#events .msg-agent .bubble", has_text="אני בודקת את זה")
    await agent.wait_for()
    await _reads_from_the_right(agent)

    # Taking the chat told the Hebrew customer the agent's Hebrew display name (handoff/agents.yml).
    texts = catalog()
    joined = page.locator("#events .msg-system .bubble", has_text="מהצוות שלנו")
    assert await joined.first.text_content() == texts.text("agent_joined", "he", agent="דנה")
    # The catalog's notice with a Latin name, isolated, as an agent without a Hebrew name would be announced.
    await live_store.add_event(cid, Event(kind=EventKind.SYSTEM, text=texts.text("agent_joined", "he", agent="Dana"),
                                          author="kesher"))
    system = joined.nth(1)
    await system.wait_for()
    await _reads_from_the_right(system)
    assert page.errors == []
