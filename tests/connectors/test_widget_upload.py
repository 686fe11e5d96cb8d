"""An image from the widget reaches the agent during a handoff, and only the agent: in Chromium, through the web
channel (a stand-in bot) and the real handoff service, on one Redis."""

from __future__ import annotations

import json
import struct
import zlib
from dataclasses import replace
from typing import Any, AsyncIterator, Dict, List, Tuple
from urllib.parse import quote

import httpx
import pytest_asyncio

from connectors.web import WebChannel
from core.settings import Settings
from handoff.identity import conversation_id
from handoff.state import HandoffStore
from handoff.uploads import MAX_UPLOAD_BYTES
from tests.connectors.conftest import WEB_SECRET
from tests.connectors.test_widget_texts import ShopSite
from tests.console.conftest import PASSWORD, Service, hebrew_request, login
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.channels import ChannelApp, WebCustomer, serving_channel
from tests.helpers.texts import catalog
from tests.helpers.waiting import until

pytestmark = needs_chromium


def _png(width: int = 40, height: int = 30) -> bytes:
    """A real PNG (solid teal), built here so the test needs no file."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    rows = b"".join(b"\x00" + b"\x0e\x5a\x66" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(rows)) + chunk(b"IEND", b""))


@pytest_asyncio.fixture()
async def web(channel_settings: Settings, redis_client: Any) -> AsyncIterator[ChannelApp]:
    async with serving_channel(lambda rt: WebChannel(WEB_SECRET, allowed_origins="*", rt=rt), channel_settings) as app:
        yield app


@pytest_asyncio.fixture()
async def browser() -> AsyncIterator[Any]:
    async with chromium() as instance:
        yield instance


async def _media(http: httpx.AsyncClient, cid: str) -> List[Dict[str, Any]]:
    events = (await http.get(f"/console/api/chats/{quote(cid, safe='')}/events")).json()["events"]
    return [m for e in events if e["kind"] == "customer" for m in (e.get("data") or {}).get("media", [])]


async def test_an_image_reaches_the_agent_and_only_the_agent(
    browser: Any, web: ChannelApp, console_service: Service, http: httpx.AsyncClient, live_store: HandoffStore,
) -> None:
    texts = catalog()
    context = await browser.new_context(viewport={"width": 390, "height": 844}, locale="he-IL")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    page.errors = []
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    shop = ShopSite(web.base)
    try:
        await page.goto(f"{shop.base_url}/he")
        await page.click("#kesher-launcher")
        attach = page.locator("#kesher-attach")
        assert await attach.is_hidden()  # the bot cannot look at images
        await page.fill("#kesher-input", "החבילה הגיעה שבורה")
        await page.press("#kesher-input", "Enter")
        await page.locator(".kesher-msg--bot", has_text="bot:").wait_for()
        creds = json.loads(await page.evaluate("localStorage.getItem('kesher.web.session')"))
        cid = conversation_id("web", creds["session"])

        # A person takes the conversation: now the widget offers to send an image.
        await live_store.request(replace(hebrew_request(cid), channel="web"))
        csrf = await login(http, "dana")
        await http.post("/console/api/presence", json={"status": "online"}, headers={"X-CSRF-Token": csrf})
        taken = await http.post(f"/console/api/chats/{quote(cid, safe='')}/take", headers={"X-CSRF-Token": csrf})
        assert taken.status_code == 200, taken.text
        await attach.wait_for()
        assert await attach.get_attribute("aria-label") == texts.text("widget_attach", "he")

        image = _png()
        await page.set_input_files("#kesher-file", files=[{"name": "x.png", "mimeType": "image/png", "buffer": image}])
        await page.locator(".kesher-msg--customer", has_text=texts.text("widget_image_sent", "he")).wait_for()
        [media] = await until(lambda: _media(http, cid), what="the image in the agent's events")
        assert media["content_type"] == "image/png" and media["upload"]

        # The agent gets the very bytes, as an image that cannot run; no one without the right gets it.
        path = f"/console/api/uploads/{media['upload']}"
        served = await http.get(path)
        assert served.status_code == 200 and served.content == image
        assert served.headers["content-type"] == "image/png"
        assert "sandbox" in served.headers["content-security-policy"]
        assert served.headers["x-content-type-options"] == "nosniff"
        async with httpx.AsyncClient(base_url=console_service.base_url) as stranger:
            assert (await stranger.get(path, headers={"Accept": "application/json"})).status_code == 401
            await login(stranger, "omer")  # an agent, but not this conversation's
            assert (await stranger.get(path)).status_code == 403
            assert (await stranger.get("/console/api/uploads/not-a-real-id")).status_code == 404

        # The console shows it in the transcript.
        console = await browser.new_context(base_url=console_service.base_url, viewport={"width": 1280, "height": 800})
        desk = await console.new_page()
        await desk.goto("/console/login")
        await desk.fill("#agent_id", "dana")
        await desk.fill("#password", PASSWORD)
        await desk.click("#login")
        await desk.locator(f'#my-chats li[data-cid="{cid}"]').click()
        shown = desk.locator("#events .attachment-image img")
        await shown.wait_for()
        await until(lambda: shown.evaluate("img => img.complete && img.naturalWidth"), what="the image drawn")
        assert await shown.evaluate("img => [img.naturalWidth, img.naturalHeight]") == [40, 30]
        await console.close()
        assert page.errors == []
    finally:
        await context.close()
        shop.close()


async def _post(app: ChannelApp, creds: Tuple[str, str], body: bytes) -> httpx.Response:
    async with httpx.AsyncClient(base_url=app.base) as client:
        return await client.post("/upload", content=body, headers={
            "content-type": "image/png", "x-kesher-session": creds[0], "x-kesher-token": creds[1]})


async def test_the_server_checks_every_image_itself(web: ChannelApp, live_store: HandoffStore) -> None:
    customer = WebCustomer(web.base)
    try:
        await customer.open()
        creds = (customer.session["session"], customer.session["token"])
        cid = conversation_id("web", creds[0])
        # With the bot: refused, nothing stored.
        refused = await _post(web, creds, _png())
        assert refused.status_code == 409 and "handoff" in refused.json()["error"]
        await live_store.request(replace(hebrew_request(cid), channel="web"))
        # A page or a script that calls itself an image, an empty body, one too large, a forged session.
        html = await _post(web, creds, b"<html><script>alert(1)</script></html>")
        assert html.status_code == 400 and "PNG" in html.json()["error"]
        assert (await _post(web, creds, b"")).status_code == 400
        assert (await _post(web, creds, b"\x89PNG\r\n\x1a\n" + b"\0" * MAX_UPLOAD_BYTES)).status_code == 413
        assert (await _post(web, (creds[0], "1." + "0" * 64), _png())).status_code == 403
        assert [e.kind.value for e in await live_store.events(cid) if e.data.get("media")] == []
        # A real one, while queued, reaches the conversation.
        assert (await _post(web, creds, _png())).status_code == 201
        assert len([e for e in await live_store.events(cid) if e.data.get("media")]) == 1
    finally:
        await customer.close()
