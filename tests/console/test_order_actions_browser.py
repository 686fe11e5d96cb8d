"""Headless Chromium: an agent acts on an order from the customer panel, through the confirmation step (#17)."""

from __future__ import annotations

import re
import sqlite3
from typing import AsyncIterator, Dict, List

import pytest_asyncio
from redis.asyncio import Redis

from handoff.models import HandoffRequest
from handoff.state import HandoffStore
from tests.console.conftest import PASSWORD, Service, new_cid
from tests.helpers.browser import chromium, needs_chromium

pytestmark = needs_chromium


@pytest_asyncio.fixture()
async def page(console_service: Service) -> AsyncIterator:
    async with chromium() as browser:
        context = await browser.new_context(base_url=console_service.base_url,
                                            viewport={"width": 1440, "height": 900}, locale="en-GB")
        page = await context.new_page()
        page.set_default_timeout(10_000)
        page.csp_errors = []
        page.on("console", lambda m: page.csp_errors.append(m.text)
                if m.type == "error" and "Content Security Policy" in m.text else None)
        page.on("pageerror", lambda e: page.csp_errors.append(f"page error: {e}"))
        yield page
        await context.close()


def _query(service: Service, sql: str, *args: str) -> List[Dict[str, str]]:
    with sqlite3.connect(service.var_dir / "orders.db") as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute(sql, args)]


async def _desk_with_chat(page, live_store: HandoffStore, order: Dict[str, str]) -> str:
    await page.goto("/console/login")
    await page.fill("#agent_id", "omer")
    await page.fill("#password", PASSWORD)
    await page.click("#login")
    await page.wait_for_selector("#queue-title")
    await page.click('#presence button[data-status="online"]')
    await page.wait_for_selector('#presence[data-status="online"]')
    await page.wait_for_selector('#conn[data-state="live"]')
    cid = new_cid("act")
    await live_store.request(HandoffRequest(cid=cid, channel="web", language="en", reason="explicit_request",
                                            reference=f"K-{cid[-6:].upper()}", customer_name=order["customer_name"],
                                            email=order["email"], verified_order=order["order_id"]))
    row = page.locator(f'#queue-body tr[data-cid="{cid}"]')
    await row.wait_for()
    await row.locator("button.take").click()
    await page.wait_for_selector('#chat-state[data-state="with_agent"]')
    return cid


async def test_store_credit_through_the_confirmation_step(
    page, console_service: Service, live_store: HandoffStore, redis_client: Redis
):
    [order] = _query(console_service, "SELECT order_id, email, customer_name, currency FROM orders "
                                      "WHERE status = 'processing' ORDER BY order_id DESC LIMIT 1")
    await _desk_with_chat(page, live_store, order)
    item = page.locator(f'#order-actions li[data-order="{order["order_id"]}"]')
    await item.wait_for()

    # Cancelling asks first, saying what will happen; "Back" leaves the order as it was.
    await item.locator('button[data-action="cancel_order"]').click()
    dialog = page.locator("#order-action-dialog")
    await dialog.locator(".order-action-preview", has_text=f"Cancel order {order['order_id']}").wait_for()
    await dialog.get_by_role("button", name="Back").click()
    await dialog.wait_for(state="detached")
    assert _query(console_service, "SELECT status FROM orders WHERE order_id = ?", order["order_id"]) == [
        {"status": "processing"}]

    # Store credit: the amount, then what it means, then confirm.
    await item.locator('button[data-action="store_credit"]').click()
    await dialog.locator('input[name="amount"]').fill("25")
    await dialog.get_by_role("button", name="Review").click()
    preview = dialog.locator(".order-action-preview")
    await preview.wait_for()
    await dialog.locator(".order-action-preview", has_text="not a refund to their card").wait_for()
    assert "25.00" in await preview.text_content()
    assert _query(console_service, "SELECT code FROM store_credits WHERE order_id = ?", order["order_id"]) == []
    await dialog.get_by_role("button", name="Confirm").click()
    await dialog.wait_for(state="detached")
    toast = page.locator("#toast", has_text=re.compile(r"Store credit of 25\.00 .* code SC-[A-Z]{5}-[A-Z]{5}"))
    await toast.wait_for()
    [credit] = _query(console_service, "SELECT amount, agent_id, code FROM store_credits WHERE order_id = ?",
                      order["order_id"])
    assert (credit["amount"], credit["agent_id"]) == (2500, "omer")
    assert credit["code"] in await toast.text_content()
    # The list shows it, and the timeline has the note the next agent will read.
    await item.locator("p", has_text="Store credit issued on this order: 25.00").wait_for()
    await page.locator("#events .msg-note", has_text=credit["code"]).first.wait_for()

    # An amount over what is left is refused in the dialog, with the reason; nothing is issued.
    await item.locator('button[data-action="store_credit"]').click()
    await dialog.locator('input[name="amount"]').fill("100000")
    await dialog.get_by_role("button", name="Review").click()
    await dialog.locator(".order-action-error", has_text="at most").wait_for()
    assert await dialog.get_by_role("button", name="Confirm").is_hidden()
    await dialog.get_by_role("button", name="Back").click()
    assert len(_query(console_service, "SELECT code FROM store_credits WHERE order_id = ?", order["order_id"])) == 1
    assert page.csp_errors == []


async def test_an_order_that_has_shipped_offers_no_cancel(
    page, console_service: Service, live_store: HandoffStore, redis_client: Redis
):
    [order] = _query(console_service, "SELECT order_id, email, customer_name FROM orders "
                                      "WHERE status IN ('shipped', 'delivered') ORDER BY order_id LIMIT 1")
    await _desk_with_chat(page, live_store, order)
    item = page.locator(f'#order-actions li[data-order="{order["order_id"]}"]')
    await item.wait_for()
    assert await item.locator('button[data-action="cancel_order"]').is_disabled()
    assert await item.locator('button[data-action="change_address"]').is_disabled()
    await item.locator('p.refusal[data-action="cancel_order"]', has_text="only an order that hasn't shipped").wait_for()
    assert await item.locator('button[data-action="store_credit"]').is_enabled()
    assert page.csp_errors == []
