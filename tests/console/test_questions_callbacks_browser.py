"""#18 points 6 and 7 in the running handoff service, in headless Chromium.

The unanswered-questions page: the "add as an example of" list starts on a placeholder (the writer must
choose), a group can be dismissed (alone or ticked with others) and stays hidden, and an answer a customer
rejected is listed with the question it answered. The callback list: an agent sees the requests the bot
filed, soonest first, and closes one with an outcome (CSRF-checked; the event log gets a ``callback``).
"""

from __future__ import annotations

import json
import time
from typing import Any, AsyncIterator, Dict, List

import httpx
import pytest_asyncio
from redis.asyncio import Redis

from core.redis_keys import RedisKeys
from core.service_events import EventKind
from core.settings import Settings
from handoff.callbacks import CallbackBook
from handoff.event_log import EventLog
from tests.console.conftest import PASSWORD, WRITER, Service
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.event_rows import rows_of
from tests.helpers.waiting import until


@pytest_asyncio.fixture()
async def browser() -> AsyncIterator[Any]:
    async with chromium() as instance:
        yield instance


@pytest_asyncio.fixture()
async def page(browser: Any, console_service: Service) -> AsyncIterator[Any]:
    context = await browser.new_context(base_url=console_service.base_url, viewport={"width": 1280, "height": 900},
                                        locale="en-GB", device_scale_factor=1)
    page = await context.new_page()
    page.set_default_timeout(10_000)
    page.set_default_navigation_timeout(60_000)  # the first page load imports scikit-learn on a busy machine
    errors: List[str] = []
    page.on("console", lambda m: errors.append(m.text)
            if m.type == "error" and not m.location.get("url", "").endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    page.errors = errors
    yield page
    await context.close()


async def _login(page: Any, agent_id: str) -> None:
    await page.goto("/console/login")
    await page.fill("#agent_id", agent_id)
    await page.fill("#password", PASSWORD)
    await page.click("#login")
    await page.wait_for_load_state()


def _user(text: str, intent: str, at: float, confidence: float = 0.9,
          entities: List[Dict[str, Any]] | None = None) -> Dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": at,
            "parse_data": {"intent": {"name": intent, "confidence": confidence}, "entities": entities or []}}


def _tracker(sender: str, events: List[Dict[str, Any]]) -> str:
    return json.dumps({"sender_id": sender, "events": [{"event": "action", "name": "action_session_start"},
                                                       *events]})


WRONG_ANSWER = "Our stores are open Sunday–Thursday 10:00–21:00."


@needs_chromium
async def test_questions_start_unchosen_can_be_dismissed_and_list_rejected_answers(
    page: Any, console_service: Service, redis_client: Redis
) -> None:
    start = 1_763_900_000.0
    await redis_client.set("kesher:tracker:web:gib", _tracker("web:gib", [
        _user("asdf qwer zxcv", "nlu_fallback", start), {"event": "action", "name": "action_fallback"},
        _user("test test 123", "nlu_fallback", start + 1), {"event": "action", "name": "action_fallback"},
        _user("תזמינו לי מלון באילת", "out_of_scope", start + 2), {"event": "action", "name": "action_out_of_scope"},
    ]))
    # A question the bot answered, and the customer's thumbs-down on that answer (the widget's payload).
    await redis_client.set("kesher:tracker:web:rej", _tracker("web:rej", [
        _user("do you sell gift wrapping at the store", "faq", start + 3),
        {"event": "bot", "text": WRONG_ANSWER, "timestamp": start + 3.5},
        _user('/answer_rejected{"rejected_answer": "Our stores are open"}', "answer_rejected", start + 4, 1.0,
              [{"entity": "rejected_answer", "value": "Our stores are open"}]),
    ]))
    await _login(page, WRITER)
    await page.goto("/console/writers/questions")
    groups = page.locator(".question-group")
    assert await groups.count() == 4

    # No intent is chosen for the writer: the list shows the placeholder, and Add refuses to submit without one.
    hotel = groups.filter(has=page.locator('.question[lang="he"]'))
    select = hotel.locator("select[name=intent]")
    assert await select.evaluate("s => s.value") == ""
    assert await select.evaluate("s => s.options[s.selectedIndex].text") == "Choose an intent…"
    assert await select.evaluate("s => s.checkValidity()") is False

    # The rejected answer is a miss, shown with the answer the customer rejected.
    rejected = groups.filter(has_text="gift wrapping")
    assert await rejected.locator(".rejected-answer").inner_text() == f"The bot answered: {WRONG_ANSWER}"
    assert "answer rejected" in await rejected.locator(".facts").inner_text()

    # Gibberish in bulk: tick two groups, dismiss them together.
    for wording in ("asdf qwer zxcv", "test test 123"):
        await groups.filter(has_text=wording).locator("input[type=checkbox][name=group]").check()
    await page.click("#dismiss-selected")
    await page.wait_for_load_state()
    assert await page.locator("#dismissed").inner_text() == "2 groups dismissed; they stay hidden."
    assert await page.locator(".question-group").count() == 2
    # One group on its own.
    await page.locator(".question-group").filter(has=page.locator('.question[lang="he"]')) \
        .get_by_role("button", name="Dismiss").click()
    await page.wait_for_load_state()
    assert await page.locator(".question-group").count() == 1
    # Remembered: a reload (and the same wordings asked again) keeps them hidden.
    await redis_client.set("kesher:tracker:web:gib2", _tracker("web:gib2", [
        _user("asdf qwer zxcv", "nlu_fallback", start + 9), {"event": "action", "name": "action_fallback"}]))
    await page.goto("/console/writers/questions")
    assert await page.locator(".question-group").count() == 1
    assert "gift wrapping" in await page.locator(".question-group").inner_text()
    assert await redis_client.hexists(RedisKeys().dismissed_questions("en"), "asdf qwer zxcv")
    assert page.errors == []


async def test_dismissing_needs_a_listed_group_and_the_csrf_token(console_service: Service,
                                                                  redis_client: Redis) -> None:
    async with httpx.AsyncClient(base_url=console_service.base_url, timeout=15) as client:
        form = await client.get("/console/login")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        await client.post("/console/login", data={"agent_id": WRITER, "password": PASSWORD, "csrf_token": token})
        page = await client.get("/console/writers/questions")
        token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        no_token = await client.post("/console/writers/questions/dismiss", data={"group": "0123456789abcdef"})
        assert no_token.status_code == 403
        unknown = await client.post("/console/writers/questions/dismiss",
                                    data={"group": "0123456789abcdef", "csrf_token": token})
        assert unknown.status_code == 400
        assert "Select at least one group" in unknown.text


@needs_chromium
async def test_an_agent_sees_and_closes_a_callback_request(page: Any, console_service: Service,
                                                           redis_client: Redis) -> None:
    book = CallbackBook(redis_client, RedisKeys(), EventLog(redis_client, RedisKeys()))
    now = time.time()
    later = await book.create("web:cb2", "web", "en", "0525550000", now + 7200)
    soon = await book.create("web:cb1", "web", "he", "0505551234", now + 3600)
    await _login(page, "omer")
    nav = page.locator('.nav a[href="/console/callbacks"]')
    await nav.click()
    await page.wait_for_load_state()
    assert await nav.get_attribute("aria-current") == "page"
    rows = page.locator("#callbacks-open tbody tr")
    assert [await r.get_attribute("data-callback") for r in await rows.all()] == [soon.callback_id,
                                                                                 later.callback_id]
    first = rows.first
    assert await first.locator(".callback-phone").inner_text() == "0505551234"
    # The outcome must be chosen: the form does not submit on the placeholder.
    assert await first.locator("select[name=outcome]").evaluate("s => s.checkValidity()") is False
    await first.locator("select[name=outcome]").select_option("reached")
    await first.locator("input[name=note]").fill("Exchanged the size, all good")
    await first.get_by_role("button", name="Close").click()
    await page.wait_for_load_state()
    assert await page.locator("#callback-closed").inner_text() == f"Request {soon.callback_id} closed: reached."
    assert await page.locator("#callbacks-open tbody tr").count() == 1
    closed = page.locator(f'#callbacks-closed tr[data-callback="{soon.callback_id}"]')
    assert await closed.locator(".callback-outcome").inner_text() == "reached"
    assert "closed by omer" in await closed.inner_text()
    stored = await book.get(soon.callback_id)
    assert (stored.state, stored.outcome, stored.closed_by, stored.note) == ("closed", "reached", "omer",
                                                                             "Exchanged the size, all good")
    # The event log (the service's mover empties the stream into its database, so the test reads that).
    settings = Settings(var_dir=console_service.var_dir)

    def closed_rows() -> List[Dict[str, Any]]:
        return [r for r in rows_of(settings, "web:cb1", [EventKind.CALLBACK]) if r["reason"] == "closed"]

    [row] = await until(closed_rows, what="the callback's closed row", timeout=30)
    assert row["outcome"] == "reached"
    assert page.errors == []


async def test_closing_a_callback_is_checked(console_service: Service, redis_client: Redis) -> None:
    book = CallbackBook(redis_client, RedisKeys())
    request = await book.create("web:cb3", "web", "en", "0505551234", time.time() + 3600)
    async with httpx.AsyncClient(base_url=console_service.base_url, timeout=15) as client:
        form = await client.get("/console/login")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        await client.post("/console/login", data={"agent_id": "omer", "password": PASSWORD, "csrf_token": token})
        listing = await client.get("/console/callbacks")
        assert listing.status_code == 200 and request.callback_id in listing.text
        token = listing.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        path = f"/console/callbacks/{request.callback_id}/close"
        assert (await client.post(path, data={"outcome": "reached"})).status_code == 403  # no CSRF token
        bad = await client.post(path, data={"outcome": "hung_up", "csrf_token": token})
        assert bad.status_code == 400 and "Choose how the call went" in bad.text
        missing = await client.post("/console/callbacks/CB-NOPE00/close", data={"outcome": "reached",
                                                                                "csrf_token": token})
        assert missing.status_code == 404
        ok = await client.post(path, data={"outcome": "no_answer", "csrf_token": token})
        assert ok.status_code in (302, 303)
        again = await client.post(path, data={"outcome": "reached", "csrf_token": token})
        assert again.status_code == 409
    async with httpx.AsyncClient(base_url=console_service.base_url, timeout=15) as writer:
        form = await writer.get("/console/login")
        token = form.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
        await writer.post("/console/login", data={"agent_id": WRITER, "password": PASSWORD, "csrf_token": token})
        assert (await writer.get("/console/callbacks")).status_code == 403  # phone numbers: desk roles only
