"""The widget in headless Chromium shows the one markup: bold without its stars, links to http(s) only.

An agent's ``<script>``, an ``onerror`` image or a ``javascript:`` link arrives as text and never runs.
"""

from __future__ import annotations

import json
from typing import Any, Tuple

import pytest

from handoff.identity import conversation_id
from tests.connectors.test_widget_texts import _close, _shop, _tell, browser, web  # noqa: F401 - shared fixtures
from tests.helpers.browser import needs_chromium
from tests.helpers.channels import ChannelApp, WebCustomer

pytestmark = needs_chromium

FAQ = "משלוח רגיל עולה ₪29.90, ו**בהזמנות מעל ₪299 הוא בחינם**. פרטים: [תנאי המשלוח](https://shop.example.com/he/shipping)"
HOSTILE = ('**Refund** sent [click](javascript:window.__xss=1) <script>window.__xss=2</script>'
           '<img src=x onerror="window.__xss=3"> https://shop.example.com/orders')


async def _open_chat(page: Any, app: ChannelApp) -> str:
    await page.click("#kesher-launcher")
    await page.fill("#kesher-input", "שלום")
    await page.press("#kesher-input", "Enter")
    await page.locator(".kesher-msg--bot", has_text="bot: שלום").wait_for()
    session = json.loads(await page.evaluate("localStorage.getItem('kesher.web.session')"))["session"]
    return conversation_id("web", session)


@pytest.mark.asyncio
async def test_bold_shows_without_asterisks_and_a_link_opens_a_new_tab(
        browser: Any, web: Tuple[ChannelApp, WebCustomer]) -> None:  # noqa: F811
    app, _ = web
    page = await _shop(browser, app, "he")
    cid = await _open_chat(page, app)
    await _tell(app, cid, FAQ)
    text = page.locator(".kesher-msg--agent .kesher-text").last
    await text.wait_for()
    assert await text.locator("strong").text_content() == "בהזמנות מעל ₪299 הוא בחינם"
    assert "*" not in await text.text_content()
    bold = await text.locator("strong").evaluate("n => getComputedStyle(n).fontWeight")
    assert int(bold) >= 600
    link = text.locator("a")
    assert (await link.text_content(), await link.get_attribute("href")) == (
        "תנאי המשלוח", "https://shop.example.com/he/shipping")
    assert (await link.get_attribute("target"), await link.get_attribute("rel")) == ("_blank", "noopener noreferrer")
    assert page.errors == []
    await _close(page)


@pytest.mark.asyncio
async def test_an_agents_script_and_javascript_link_stay_inert(
        browser: Any, web: Tuple[ChannelApp, WebCustomer]) -> None:  # noqa: F811
    app, _ = web
    page = await _shop(browser, app, "en")
    cid = await _open_chat(page, app)
    await _tell(app, cid, HOSTILE)
    text = page.locator(".kesher-msg--agent .kesher-text").last
    await text.wait_for()
    assert await text.locator("strong").text_content() == "Refund"
    assert await text.locator("a").count() == 1
    assert await text.locator("a").get_attribute("href") == "https://shop.example.com/orders"
    assert "[click](javascript:window.__xss=1) <script>window.__xss=2</script><img" in await text.text_content()
    assert await page.locator("#kesher-log script, #kesher-log img").count() == 0
    assert await page.evaluate("typeof window.__xss") == "undefined"
    assert page.errors == []
    await _close(page)
