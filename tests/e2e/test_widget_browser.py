"""The web widget in headless Chromium against the real bot: the demo page, keyboard, buttons, Hebrew, reload,
and the question offered when the bot is not sure."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import AsyncIterator, List
from urllib.parse import urlsplit

import pytest
import pytest_asyncio
import requests
import yaml

from core.rasa_api import api_headers
from core.settings import PROJECT_ROOT
from core.suggestions import SUGGESTION, suggested_question
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.screenshots import row_ink

pytestmark = [
    pytest.mark.stack,
    needs_chromium,
]


@pytest_asyncio.fixture()
async def page(stack, stack_settings) -> AsyncIterator:
    async with chromium() as browser:
        context = await browser.new_context(viewport={"width": 1280, "height": 860}, locale="en-GB")
        page = await context.new_page()
        page.set_default_timeout(60_000)
        page.hosts = []
        page.errors = []
        page.on("request", lambda r: page.hosts.append(urlsplit(r.url).hostname or ""))
        page.on("pageerror", lambda e: page.errors.append(str(e)))
        yield page


async def _bot_bubbles(page) -> List[str]:
    return await page.locator(".kesher-msg--bot .kesher-text").all_inner_texts()


async def test_a_customer_chats_on_the_demo_page(page, stack_settings) -> None:
    await page.goto(f"{stack_settings.rasa_url}/webhooks/web/demo")

    # One script tag made a launcher a keyboard user can open; focus moves into the chat.
    launcher = page.locator("#kesher-launcher")
    assert await launcher.get_attribute("aria-expanded") == "false"
    await launcher.focus()
    await page.keyboard.press("Enter")
    assert await launcher.get_attribute("aria-expanded") == "true"
    assert await page.evaluate("document.activeElement.id") == "kesher-input"
    log = page.locator("#kesher-log")
    assert await log.get_attribute("role") == "log" and await log.get_attribute("aria-live") == "polite"

    # The bot greets with buttons; a button press sends its payload.
    await page.keyboard.type("hello")
    await page.keyboard.press("Enter")
    await page.wait_for_function("document.querySelectorAll('.kesher-msg--bot').length >= 1")
    assert "virtual assistant" in (await _bot_bubbles(page))[0]
    buttons = page.locator(".kesher-buttons .kesher-button")
    assert "Where's my order?" in await buttons.all_inner_texts()
    await page.get_by_role("button", name="Where's my order?").click()
    await page.wait_for_function(
        "[...document.querySelectorAll('.kesher-msg--bot .kesher-text')].some(e => /order number/i.test(e.innerText))")
    customer = await page.locator(".kesher-msg--customer .kesher-text").all_inner_texts()
    assert customer == ["hello", "Where's my order?"]

    # A Hebrew question gets a Hebrew answer, laid out right to left, and the panel follows.
    await page.fill("#kesher-input", "איפה נמצאות החנויות שלכם?")
    await page.keyboard.press("Enter")
    await page.wait_for_function(
        "[...document.querySelectorAll('.kesher-msg--bot .kesher-text')]"
        ".some(e => /[\\u0590-\\u05FF]/.test(e.innerText))")
    hebrew = page.locator(".kesher-msg--bot").filter(has_text="10:00").last
    assert await hebrew.evaluate("e => getComputedStyle(e).direction") == "rtl"
    assert await page.locator("#kesher-panel").get_attribute("dir") == "rtl"
    # Every address in an answer is a link that opens in a new tab.
    links = await page.locator(".kesher-msg--bot a.kesher-link").evaluate_all(
        "a => a.map(x => [x.href, x.target, x.rel])")
    urls = [w for text in await _bot_bubbles(page) for w in text.split() if w.startswith("https://")]
    assert links and len(links) == len(urls)
    assert all(target == "_blank" and "noopener" in rel for _, target, rel in links)
    shown = await page.locator(".kesher-msg").count()
    before = await page.locator(".kesher-msg[data-message-id]").evaluate_all("e => e.map(x => x.dataset.messageId)")
    # As drawn: the Hebrew answer reads from the right edge of the chat, with room on its left.
    shot = Path(stack_settings.var_dir) / "widget-hebrew.png"
    drawn = await row_ink(page, hebrew, page.locator("#kesher-log"), path=shot)
    assert drawn.right_gap < 0.08 * drawn.box["width"] and drawn.left_gap > 0.1 * drawn.box["width"], drawn

    # A reload restores the conversation once, with the panel still open.
    await page.reload()
    await page.wait_for_function(f"document.querySelectorAll('.kesher-msg').length >= {shown}")
    ids = await page.locator(".kesher-msg[data-message-id]").evaluate_all("e => e.map(x => x.dataset.messageId)")
    # Each once; a part of the bot's answer that arrived after the count above may be there too.
    assert len(ids) == len(set(ids)) and set(before) <= set(ids)
    assert await page.locator("#kesher-launcher").get_attribute("aria-expanded") == "true"

    # Escape closes the chat and gives the focus back to the launcher.
    await page.locator("#kesher-input").focus()
    await page.keyboard.press("Escape")
    assert await page.evaluate("document.activeElement.id") == "kesher-launcher"
    assert set(page.hosts) == {"127.0.0.1"}  # nothing from a CDN or anywhere else
    assert page.errors == []


# Questions next to an answer's topic that ask a detail the answer does not give: the bot should not answer them,
# and may offer the answer's own question instead. The first the running model offers a question for is used.
_NEAR_QUESTIONS = (
    "how long does delivery take to a lighthouse on a holiday week?",
    "how much is shipping for a grand piano by helicopter?",
    "what warranty do you give on things bought at a flea market?",
    "can I pay in instalments with my grandmother's pension?",
    "where are your stores on the moon?",
)


def _faq_answer(answer: str) -> str:
    """The first sentence of an FAQ's English answer as the widget shows it (no markdown stars)."""
    domain = yaml.safe_load((PROJECT_ROOT / "domain" / "faq.yml").read_text(encoding="utf-8"))
    english = next(r["text"] for r in domain["responses"][f"utter_{answer}"] if not r.get("condition"))
    return english.replace("**", "").split(". ")[0]


async def test_a_question_the_bot_is_not_sure_of_offers_one_it_can_answer(page, stack_settings) -> None:
    offered = None
    for text in _NEAR_QUESTIONS:
        response = await asyncio.to_thread(
            requests.post, f"{stack_settings.rasa_url}/model/parse", json={"text": text},
            headers=api_headers(stack_settings.rasa_api_token), timeout=60)
        assert response.status_code == 200, response.text
        parse = response.json()
        if parse.get(SUGGESTION) and parse["intent"]["name"] == "nlu_fallback":
            offered = text, parse[SUGGESTION]["answer"], suggested_question(parse, "en")
            break
    assert offered, "none of the near questions was offered an FAQ question"
    text, answer, question = offered

    await page.goto(f"{stack_settings.rasa_url}/webhooks/web/demo")
    await page.locator("#kesher-launcher").click()
    await page.fill("#kesher-input", text)
    await page.keyboard.press("Enter")
    await page.get_by_role("button", name=question).wait_for()
    reply = (await _bot_bubbles(page))[-1]
    assert "not sure" in reply and "*5550" in reply  # honest, with the way to a person
    assert _faq_answer(answer) not in reply  # and not the answer itself

    await page.get_by_role("button", name=question).click()
    first_sentence = _faq_answer(answer)
    await page.wait_for_function(
        "s => [...document.querySelectorAll('.kesher-msg--bot .kesher-text')].some(e => e.innerText.includes(s))",
        arg=first_sentence)
    customer = await page.locator(".kesher-msg--customer .kesher-text").all_inner_texts()
    assert customer == [text, question]
    assert page.errors == []
