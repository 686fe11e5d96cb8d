"""An agent closes the browser tab mid-chat; the customer is picked up by another agent (#17), whole stack.

A stack of its own (its presence timings are seconds, not the shared stack's minute:
away after 2 s without a heartbeat, a customer unanswered for 15 s moved on), two agents
in Chromium, the customer on the callback channel through `rasa run`.
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any, AsyncIterator, Iterator

import pytest
import pytest_asyncio
import redis

from core.processes import free_port
from core.redis_keys import RedisKeys
from core.settings import Settings
from kesher.cli import seed, train_model
from kesher.supervisor import Supervisor
from tests.e2e.conftest import _content_copy, _open_all_day
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.callback import CallbackCustomer, CallbackInbox
from tests.helpers.event_rows import rows_of
from tests.helpers.texts import catalog
from tests.helpers.waiting import until, until_sync

pytestmark = [pytest.mark.stack, needs_chromium]

PASSWORD = "kesher-demo"
SILENT_MINUTES = 0.25  # 15 s: long enough for the first agent to answer on a busy machine


@pytest.fixture(scope="module")
def presence_settings(tmp_path_factory: pytest.TempPathFactory, inbox: CallbackInbox) -> Settings:
    var_dir = tmp_path_factory.mktemp("presence-stack")
    settings = Settings(
        var_dir=var_dir, callback_url=inbox.url, callback_secret="test-callback-secret",
        handoff_policy=_open_all_day(var_dir), content_dir=_content_copy(var_dir),
        limit_sessions_per_source="0/60", limit_messages_per_source="0/60", limit_messages_per_sender="0/60",
        agent_away_seconds=2, agent_silent_minutes=SILENT_MINUTES, presence_sweep_seconds=0.5,
    )
    return settings.with_ports(redis=free_port(), rasa=free_port(), actions=free_port(), handoff=free_port(),
                               smtp=free_port(), models=free_port())


@pytest.fixture(scope="module")
def presence_stack(presence_settings: Settings) -> Iterator[Supervisor]:
    seed(presence_settings, today=date.today())
    supervisor = Supervisor(presence_settings, model=train_model(presence_settings))
    supervisor.start()
    yield supervisor
    supervisor.stop()


@pytest_asyncio.fixture()
async def browser() -> AsyncIterator[Any]:
    async with chromium() as instance:
        yield instance


async def _desk(browser: Any, settings: Settings, agent_id: str) -> Any:
    context = await browser.new_context(base_url=settings.handoff_url, viewport={"width": 1400, "height": 900},
                                        locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(20_000)
    await page.goto("/console/login")
    await page.fill("#agent_id", agent_id)
    await page.fill("#password", PASSWORD)
    await page.click("#login")
    await page.wait_for_selector("#queue-title")
    await page.click('#presence button[data-status="online"]')
    await page.wait_for_selector('#presence[data-status="online"]')
    await page.wait_for_selector('#conn[data-state="live"]')
    return page


def _field(client: redis.Redis, key: str, name: str) -> str:
    return str(client.hget(key, name) or "")


def _texts(messages: list[dict[str, Any]]) -> str:
    return "\n".join(m["text"] for m in messages)


async def test_a_closed_tab_mid_chat_hands_the_customer_to_another_agent(
    presence_stack: Supervisor, presence_settings: Settings, inbox: CallbackInbox, browser: Any
) -> None:
    settings = presence_settings
    keys = RedisKeys()
    client = redis.Redis(port=settings.redis_port, decode_responses=True)
    sarah = await _desk(browser, settings, "sarah")
    dana = await _desk(browser, settings, "dana")
    pages = {"sarah": sarah, "dana": dana}

    customer = CallbackCustomer(settings, inbox)
    await asyncio.to_thread(customer.say, "I want to talk to a human",
                            lambda m: "from our team has joined" in _texts(m), 120)
    first = await until(lambda: _field(client, keys.conversation(customer.cid), "agent_id"), what="an agent",
                        timeout=10)
    other = "dana" if first == "sarah" else "sarah"
    page = pages[first]

    # Mid-chat: the first agent answers from the browser ...
    await page.locator(f'#my-chats li[data-cid="{customer.cid}"]').click()
    await page.fill("#composer-text", "Hi, let me look at this.")
    await page.click("#send-button")
    await asyncio.to_thread(inbox.wait, customer.sender_id, lambda m: "let me look at this" in _texts(m))
    # ... then closes the tab.
    await page.context.close()
    await until(lambda: _field(client, keys.agent(first), "status") == "away", what=f"{first} away", timeout=15)

    # The customer writes on and nobody answers: they are told, and the other agent has them.
    customer.send("Hello? Are you still there?")
    texts = catalog()
    name = "Dana" if other == "dana" else "Sarah"
    got = await asyncio.to_thread(inbox.wait, customer.sender_id,
                                  lambda m: f"{name} from our team has joined" in _texts(m), 60)
    assert texts.text("agent_silent_moved", "en") in _texts(got)
    assert _field(client, keys.conversation(customer.cid), "agent_id") == other

    # The other agent's desk has the chat with everything said so far, and answers.
    desk = pages[other]
    await desk.locator(f'#my-chats li[data-cid="{customer.cid}"]').click()
    for said in ("Hi, let me look at this.", "Hello? Are you still there?"):
        await desk.locator("#events", has_text=said).wait_for()
    await desk.fill("#composer-text", "I'm here now, sorry for the wait.")
    await desk.click("#send-button")
    await asyncio.to_thread(inbox.wait, customer.sender_id, lambda m: "sorry for the wait." in _texts(m))

    # The event log has the move, with its reason.
    until_sync(lambda: any(r["reason"] == "agent_silent" and r["agent"] == other
                           for r in rows_of(settings, customer.cid, ["handoff_transferred"])),
               what="the silent move in the event log", timeout=30)
    await desk.context.close()
    client.close()
