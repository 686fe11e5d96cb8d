"""The console shows the one markup as the widget does: bold and http(s) links, an agent's <script> as text."""

from __future__ import annotations

from redis.asyncio import Redis

from handoff.models import Event, EventKind
from handoff.state import HandoffStore
from tests.console.conftest import Service, english_request, new_cid
from tests.console.test_browser import _desk, _take, browser, page  # noqa: F401 - shared fixtures
from tests.helpers.browser import needs_chromium

pytestmark = needs_chromium

HOSTILE = ('**Refund** sent: [details](https://shop.example.com/r?a=1&b=2) '
           '[click](javascript:window.__xss=1) <script>window.__xss=2</script><img src=x onerror="window.__xss=3">')


async def test_bold_and_links_show_and_an_agents_script_stays_text(
    page, console_service: Service, live_store: HandoffStore, redis_client: Redis  # noqa: F811
):
    await _desk(page)
    cid = new_cid("markup")
    await live_store.request(english_request(cid))
    await _take(page, cid)
    await live_store.add_event(cid, Event(kind=EventKind.AGENT, text=HOSTILE, author="omer", author_name="Omer"))
    bubble = page.locator("#events .msg-agent .bubble").last
    await bubble.wait_for()
    assert await bubble.locator("strong").text_content() == "Refund"
    link = bubble.locator("a")
    assert await link.count() == 1  # the javascript: one is text
    assert (await link.text_content(), await link.get_attribute("href")) == (
        "details", "https://shop.example.com/r?a=1&b=2")
    assert (await link.get_attribute("target"), await link.get_attribute("rel")) == ("_blank", "noopener noreferrer")
    text = await bubble.text_content()
    assert text.startswith("Refund sent: details [click](javascript:window.__xss=1) <script>")
    assert "**" not in text
    assert await page.locator("#events script, #events img").count() == 0
    assert await page.evaluate("typeof window.__xss") == "undefined"
    assert page.csp_errors == []
