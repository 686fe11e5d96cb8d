"""The widget's words in headless Chromium: the catalog's texts in each language, counts in their plural forms.

The web channel is served here with a stand-in bot (``tests.helpers.channels``);
a shop's page on another loopback origin embeds the widget with one script tag.
Expected words are read from the catalog.
"""

from __future__ import annotations

import json
import uuid
from typing import Any, AsyncIterator, List, Tuple
from urllib.parse import urlsplit

import pytest
import pytest_asyncio

from connectors.web import WebChannel
from core.settings import Settings
from core.texts import TextCatalog
from handoff.identity import conversation_id
from handoff.models import OutboundMessage
from tests.connectors.conftest import WEB_SECRET
from tests.handoff.helpers import request
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.channels import ChannelApp, WebCustomer, serving_channel
from tests.helpers.local_server import LocalServer, QuietHandler
from tests.helpers.screenshots import row_ink
from tests.helpers.texts import catalog

pytestmark = needs_chromium

SHOP = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shop</title></head>
<body><h1>A shop</h1><script src="{widget}" defer data-title="Shop" data-lang="{lang}"></script></body></html>
"""


class ShopSite(LocalServer):
    """A shop's website: ``/he`` and ``/en`` embed the widget of ``channel`` (a base URL) in that language."""

    def __init__(self, channel: str) -> None:
        site = self

        class Handler(QuietHandler):
            def do_GET(self) -> None:
                body = SHOP.format(widget=f"{site.channel}/widget.js", lang=self.path.strip("/")).encode()
                self.send_response(200)
                self.send_header("content-type", "text/html; charset=utf-8")
                self.send_header("content-length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.channel = channel
        super().__init__(Handler, "shop-site")


@pytest_asyncio.fixture()
async def web(channel_settings: Settings, redis_client: Any) -> AsyncIterator[Tuple[ChannelApp, WebCustomer]]:
    """The web channel for pages of any origin: the shop's site is on another loopback port each time."""
    async with serving_channel(lambda rt: WebChannel(WEB_SECRET, allowed_origins="*", rt=rt), channel_settings) as app:
        customer = WebCustomer(app.base)
        yield app, customer
        await customer.close()


@pytest_asyncio.fixture()
async def browser() -> AsyncIterator[Any]:
    async with chromium() as instance:
        yield instance


async def _shop(browser: Any, app: ChannelApp, lang: str) -> Any:
    """A page of the shop's site with the widget in language ``lang``."""
    context = await browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.hosts = []
    page.on("request", lambda r: page.hosts.append(urlsplit(r.url).hostname))
    page.shop = ShopSite(app.base)
    await page.goto(f"{page.shop.base_url}/{lang}")
    await page.locator("#kesher-launcher").wait_for()
    return page


async def _close(page: Any) -> None:
    await page.context.close()
    page.shop.close()


@pytest.mark.parametrize("lang", ["he", "en"])
async def test_the_widget_says_the_catalogs_words_in_its_language(
    browser: Any, web: Tuple[ChannelApp, WebCustomer], lang: str
) -> None:
    app, _ = web
    texts = catalog()
    page = await _shop(browser, app, lang)
    launcher = page.locator("#kesher-launcher")
    assert await launcher.get_attribute("aria-label") == texts.text("widget_launcher", lang)
    await launcher.click()
    panel = page.locator("#kesher-panel")
    direction = "rtl" if lang == "he" else "ltr"
    assert (await panel.get_attribute("lang"), await panel.get_attribute("dir")) == (lang, direction)
    assert await page.get_attribute("#kesher-input", "placeholder") == texts.text("widget_placeholder", lang)
    assert await page.locator(".kesher-subtitle").text_content() == texts.text("widget_subtitle", lang)
    assert await page.locator("#kesher-send").text_content() == texts.text("widget_send", lang)
    assert await panel.get_attribute("aria-label") == "Shop"  # data-title
    # one script tag, nothing else fetched from anywhere but the shop's own server
    assert set(page.hosts) == {"127.0.0.1"}
    assert page.errors == []
    await _close(page)


async def _tell(app: ChannelApp, cid: str, text: str) -> None:
    await app.channel.send(cid, OutboundMessage(message_id=uuid.uuid4().hex, cid=cid, channel="web", text=text,
                                                kind="agent", author_name="Dana"))


async def test_hebrew_counts_read_right_one_two_and_many(browser: Any, web: Tuple[ChannelApp, WebCustomer]) -> None:
    app, _ = web
    texts: TextCatalog = catalog()
    page = await _shop(browser, app, "he")
    await page.click("#kesher-launcher")
    await page.fill("#kesher-input", "שלום, יש לי שאלה על הזמנה")
    await page.press("#kesher-input", "Enter")
    await page.locator(".kesher-msg--bot", has_text="bot: שלום").wait_for()
    session = json.loads(await page.evaluate("localStorage.getItem('kesher.web.session')"))["session"]
    cid = conversation_id("web", session)

    # Placed in the queue behind someone: the status line says where, in Hebrew.
    await app.rt.store.request(request(f"{cid}-ahead", channel="web"))
    await app.rt.store.request(request(cid, channel="web"))
    conv = await app.rt.store.get(cid)
    assert conv is not None
    await app.rt.store.tell_customer(conv, "נציג יענה בקרוב.")
    status = page.locator("#kesher-status")
    await page.wait_for_function("document.getElementById('kesher-status').textContent !== ''")
    assert await status.text_content() == texts.text("widget_queued", "he", position=2)

    # Messages that arrive while the chat is closed: one, two, three new messages.
    await page.click("#kesher-launcher")
    unread = page.locator("#kesher-unread")
    badge = page.locator(".kesher-badge")
    seen: List[str] = []
    for count in (1, 2, 3):
        await _tell(app, cid, f"הודעה מספר {count}")
        want = texts.text("widget_unread", "he", count=count)
        await page.wait_for_function("want => document.getElementById('kesher-unread').textContent === want",
                                     arg=want)
        assert await badge.text_content() == str(count)
        seen.append(await unread.text_content())
    # Hebrew says one and two in words ("הודעה חדשה אחת", not "1 הודעות חדשות").
    assert "1" not in seen[0] and "2" not in seen[1] and "3" in seen[2]

    # As drawn: a Hebrew message sits against the right edge of the chat, with room on the left.
    await page.click("#kesher-launcher")
    message = page.locator(".kesher-msg--agent", has_text="הודעה מספר 3")
    drawn = await row_ink(page, message, page.locator("#kesher-log"))
    width = drawn.box["width"]
    assert drawn.right_gap < 0.08 * width and drawn.left_gap > 0.25 * width, drawn
    assert page.errors == []
    await _close(page)
