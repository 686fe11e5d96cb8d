"""The widget's thumbs-down under a bot answer (#18 point 7), in headless Chromium.

A tap sends ``/answer_rejected`` with the answer it rejects (the bot then apologises and offers a person;
the writers' unanswered page lists the question with that answer: tests/writers/test_unanswered_misses.py).
The web channel runs with the stand-in bot of ``tests.helpers.channels``, which echoes what reached it.
"""

from __future__ import annotations

import json
from typing import Any, Tuple

import pytest

from tests.connectors.test_widget_texts import _close, _shop, browser, web  # noqa: F401 - the fixtures
from tests.helpers.browser import needs_chromium
from tests.helpers.channels import ChannelApp, WebCustomer
from tests.helpers.texts import catalog
from tests.helpers.waiting import until

pytestmark = needs_chromium


@pytest.mark.parametrize("lang", ["he", "en"])
async def test_a_thumbs_down_sends_the_rejected_answer(browser: Any, web: Tuple[ChannelApp, WebCustomer],  # noqa: F811
                                                       lang: str) -> None:
    app, _ = web
    label = catalog().text("widget_answer_rejected", lang)
    page = await _shop(browser, app, lang)
    await page.click("#kesher-launcher")
    await page.fill("#kesher-input", "do you gift wrap")
    await page.press("#kesher-input", "Enter")
    # The stand-in bot echoes every message, the rejection too: the answer is the first bubble.
    answer = page.locator(".kesher-msg--bot", has_text="bot: do you gift wrap").first
    await answer.wait_for()
    # Only bot answers carry it; it is a labelled button a keyboard and a screen reader reach.
    assert await page.locator(".kesher-msg--customer .kesher-reject").count() == 0
    button = answer.get_by_role("button", name=label)
    await button.focus()
    await page.keyboard.press("Enter")
    await page.locator(".kesher-msg--customer", has_text=label).wait_for()
    await until(lambda: any(t.startswith("/answer_rejected") for t in app.bot.texts),
                what="the rejection to reach the bot", timeout=15)
    sent = next(t for t in app.bot.texts if t.startswith("/answer_rejected"))
    assert json.loads(sent[len("/answer_rejected"):]) == {"rejected_answer": "bot: do you gift wrap"}
    assert await button.is_disabled()
    assert "kesher-msg--rejected" in (await answer.get_attribute("class") or "")
    assert page.errors == []
    await _close(page)
