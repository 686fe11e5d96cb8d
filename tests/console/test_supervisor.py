"""Presence and the supervisor's live view through the real handoff service, over HTTP and in Chromium (#17).

The service runs as a subprocess with seconds-long presence timings (away after 2 s
without a heartbeat, a customer unanswered for 3 s moved on, a wait of 4 s an alert)
and auto-assignment on, on a redis-server of its own (the shared console service's
sweeper would apply its own timings to the same keys).
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import shutil
from pathlib import Path
from typing import Any, AsyncIterator, Iterator

import httpx
import pytest
import pytest_asyncio
from redis.asyncio import Redis

from core.processes import free_port
from core.redis_keys import RedisKeys
from core.settings import Settings
from handoff.models import ConversationState, Event, EventKind
from handoff.state import HandoffStore
from tests.console.conftest import PASSWORD, english_request, hebrew_request, login, new_cid
from tests.helpers.browser import chromium, needs_chromium
from tests.helpers.event_rows import rows_of
from tests.helpers.handoff_service import running_handoff, seed_orders
from tests.helpers.redis_server import RedisServer, start_redis
from tests.helpers.texts import catalog
from tests.helpers.waiting import until

ROOT = Path(__file__).resolve().parents[2]
KEYS = RedisKeys()
AWAY_SECONDS = 2
SILENT_MINUTES = 0.05  # 3 s
ALERT_SECONDS = 4


class PresenceService:
    def __init__(self, base_url: str, redis: RedisServer, settings: Settings) -> None:
        self.base_url = base_url
        self.redis = redis
        self.settings = settings


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[PresenceService]:
    base = tmp_path_factory.mktemp("presence")
    (base / "redis").mkdir()
    redis = start_redis(base / "redis")
    agents_file = base / "agents.yml"
    shutil.copy(ROOT / "handoff" / "agents.yml", agents_file)
    var_dir = base / "var"
    (var_dir / "mail").mkdir(parents=True)
    seed_orders(var_dir)
    port = free_port()
    settings = Settings(
        var_dir=var_dir, agents_file=agents_file, mail_dir=var_dir / "mail", agent_away_seconds=AWAY_SECONDS,
        agent_silent_minutes=SILENT_MINUTES, presence_sweep_seconds=0.3, wait_alert_seconds=ALERT_SECONDS,
    ).with_ports(redis=redis.port, rasa=free_port(), actions=free_port(), handoff=port, smtp=free_port())
    try:
        with running_handoff(settings, base) as url:
            yield PresenceService(url, redis, settings)
    finally:
        redis.stop()


@pytest_asyncio.fixture()
async def store(service: PresenceService) -> AsyncIterator[HandoffStore]:
    service.redis.flush()
    client = Redis(port=service.redis.port, decode_responses=True)
    yield HandoffStore(client, KEYS)
    await client.close()


@pytest_asyncio.fixture()
async def client(service: PresenceService) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=service.base_url, follow_redirects=False, timeout=15) as http:
        yield http


LANDING = {"miriam": "/console/dashboard", "maya": "/console/writers"}


@contextlib.asynccontextmanager
async def _as(service: PresenceService, agent_id: str) -> AsyncIterator[tuple[httpx.AsyncClient, str]]:
    async with httpx.AsyncClient(base_url=service.base_url, follow_redirects=False, timeout=15) as http:
        yield http, await login(http, agent_id, landing=LANDING.get(agent_id, "/console"))


async def _conversation(store: HandoffStore, cid: str) -> Any:
    conv = await store.get(cid)
    assert conv is not None
    return conv


async def _logged(service: PresenceService, cid: str, *wanted: tuple[str, str, str]) -> None:
    """Waits until the event log's database holds each (kind, agent, reason) of ``cid`` (the mover is a moment late)."""
    def stored() -> bool:
        rows = {(r["kind"], r["agent"], r["reason"]) for r in rows_of(service.settings, cid, [w[0] for w in wanted])}
        return set(wanted) <= rows
    await until(lambda: asyncio.to_thread(stored), what=f"{wanted} in the event log", timeout=15)


# -- HTTP -----------------------------------------------------------------------------------------
async def test_heartbeats_keep_an_agent_online_and_their_absence_makes_them_away(
    service: PresenceService, store: HandoffStore
) -> None:
    async with _as(service, "sarah") as (http, csrf):
        assert (await http.post("/console/api/heartbeat", json={})).status_code == 403  # no CSRF token
        assert (await http.post("/console/api/heartbeat", json={"after": "x"},
                                headers={"X-CSRF-Token": csrf})).status_code == 400
        assert (await http.post("/console/api/presence", json={"status": "online"},
                                headers={"X-CSRF-Token": csrf})).status_code == 200
        beat = (await http.post("/console/api/heartbeat", json={}, headers={"X-CSRF-Token": csrf})).json()
        assert beat["presence"] == "online" and 0 < beat["next_seconds"] <= AWAY_SECONDS
        # No more heartbeats: away within the away time and a sweep.
        await until(lambda: _presence(store, "sarah", "away"), what="sarah away", timeout=10)
        # A customer asks meanwhile: nobody takes it.
        await store.request(english_request(cid := new_cid("hb")))
        # Her console beats again: she is online, and the waiting customer is hers at once.
        beat = (await http.post("/console/api/heartbeat", json={}, headers={"X-CSRF-Token": csrf})).json()
        assert beat["presence"] == "online"
        conv = await until(_with(store, cid), what="the waiting chat assigned", timeout=4)
        assert conv.agent_id == "sarah"


async def test_a_silent_agent_with_nobody_else_free_puts_the_customer_back_in_the_queue_for_the_next_agent(
    service: PresenceService, store: HandoffStore
) -> None:
    async with _as(service, "sarah") as (http, csrf):
        headers = {"X-CSRF-Token": csrf}
        assert (await http.post("/console/api/presence", json={"status": "online"},
                                headers=headers)).status_code == 200
        since = (await http.post("/console/api/heartbeat", json={}, headers=headers)).json()["server_time"]
        chat = new_cid("alone")
        await store.request(english_request(chat))
        assert (await until(_with(store, chat), what="the chat assigned to sarah", timeout=5)).agent_id == "sarah"
        await store.add_event(chat, Event(kind=EventKind.CUSTOMER, text="Anyone there?", author="customer"))

        async def requeued() -> Any:
            # Her console stays open (it beats), but nobody answers the customer, and nobody else is online.
            beat = (await http.post("/console/api/heartbeat", json={"after": since}, headers=headers)).json()
            conv = await store.get(chat)
            return beat["moved"] if conv is not None and conv.state is ConversationState.QUEUED else None

        [moved] = await until(requeued, what="the chat back in the queue", timeout=15, every=0.3)
        assert moved["cid"] == chat and moved["to_agent"] == "" and moved["reason"] == "agent_silent"
        assert moved["text"].startswith(f"Chat {moved['reference']} went back to the queue")
        told = [e.text for e in await store.events(chat) if e.kind is EventKind.SYSTEM]
        assert told.count(catalog().text("agent_silent_requeued", "en")) == 1
        assert (await _conversation(store, chat)).left_by == "sarah"
        # The next agent to come online gets the customer, with the whole conversation.
        async with _as(service, "dana") as (dana, dana_csrf):
            assert (await dana.post("/console/api/presence", json={"status": "online"},
                                    headers={"X-CSRF-Token": dana_csrf})).status_code == 200
            conv = await until(_with(store, chat), what="the chat assigned to dana", timeout=5)
            assert conv.agent_id == "dana"
            shown = await dana.get(f"/console/api/chats/{chat}/events")
            assert shown.status_code == 200 and "Anyone there?" in shown.text and "Back in the queue" in shown.text
        await _logged(service, chat, ("handoff_transferred", "", "agent_silent"))


async def _presence(store: HandoffStore, agent_id: str, status: str) -> bool:
    return await store.redis.hget(KEYS.agent(agent_id), "status") == status


def _with(store: HandoffStore, cid: str):
    async def check():
        conv = await store.get(cid)
        return conv if conv is not None and conv.state is ConversationState.WITH_AGENT else None
    return check


async def test_the_live_view_is_for_supervisors_and_managers_only(service: PresenceService) -> None:
    for agent_id, status in (("omer", 403), ("maya", 403), ("dana", 200), ("miriam", 200)):
        async with _as(service, agent_id) as (http, _):
            assert (await http.get("/console/api/supervisor")).status_code == status, agent_id
            assert (await http.get("/console/supervisor")).status_code == status, agent_id
    async with httpx.AsyncClient(base_url=service.base_url, timeout=15) as anonymous:
        assert (await anonymous.get("/console/api/supervisor")).status_code == 401


async def test_a_supervisor_reassigns_and_joins_over_http(service: PresenceService, store: HandoffStore) -> None:
    async with _as(service, "miriam") as (http, csrf):
        cid = new_cid("sv")
        await store.request(hebrew_request(cid))
        url = f"/console/api/supervisor/chats/{cid}"
        assert (await http.post(f"{url}/reassign", json={"to_agent": "omer"})).status_code == 403  # no CSRF
        bad = await http.post(f"{url}/reassign", json={"to_agent": "<omer>"}, headers={"X-CSRF-Token": csrf})
        assert bad.status_code == 400 and bad.json()["error"]
        missing = await http.post(f"{url}/reassign", json={}, headers={"X-CSRF-Token": csrf})
        assert missing.status_code == 400
        nobody = await http.post(f"{url}/reassign", json={"to_agent": "zed"}, headers={"X-CSRF-Token": csrf})
        assert nobody.status_code == 404
        done = await http.post(f"{url}/reassign", json={"to_agent": "omer"}, headers={"X-CSRF-Token": csrf})
        assert done.status_code == 200 and done.json()["agent_id"] == "omer"
        view = (await http.get("/console/api/supervisor")).json()
        omer = next(a for a in view["agents"] if a["id"] == "omer")
        assert [c["cid"] for c in omer["chats"]] == [cid] and omer["load_label"] == "1 of 3 chats"

        joined = await http.post(f"{url}/join", headers={"X-CSRF-Token": csrf})
        assert joined.status_code == 200 and any(e["kind"] == "note" for e in joined.json()["events"])
        said = await http.post(f"{url}/messages", json={"text": "שלום מהצוות"}, headers={"X-CSRF-Token": csrf})
        assert said.status_code == 201 and said.json()["event"]["author_name"] == "הצוות של חנות קשר"
        empty = await http.post(f"{url}/messages", json={"text": "  "}, headers={"X-CSRF-Token": csrf})
        assert empty.status_code == 400
        events = (await http.get(f"{url}/events", params={"after": "x"})).status_code
        assert events == 400
        await _logged(service, cid, *(("agent_action", "miriam", reason)
                                      for reason in ("supervisor_reassign", "supervisor_join", "supervisor_message")))


# -- Chromium -------------------------------------------------------------------------------------
@pytest_asyncio.fixture()
async def browser() -> AsyncIterator[Any]:
    async with chromium() as instance:
        yield instance


async def _page(browser: Any, service: PresenceService, agent_id: str) -> Any:
    context = await browser.new_context(base_url=service.base_url, viewport={"width": 1400, "height": 900},
                                        locale="en-GB")
    page = await context.new_page()
    page.set_default_timeout(10_000)
    page.problems = []
    page.on("console", lambda m: page.problems.append(m.text)
            if m.type == "error" and "Content Security Policy" in m.text else None)
    page.on("pageerror", lambda e: page.problems.append(f"page error: {e}"))
    await page.goto("/console/login")
    await page.fill("#agent_id", agent_id)
    await page.fill("#password", PASSWORD)
    await page.click("#login")
    return page


async def _desk(browser: Any, service: PresenceService, agent_id: str) -> Any:
    page = await _page(browser, service, agent_id)
    await page.wait_for_selector("#queue-title")
    await page.click('#presence button[data-status="online"]')
    await page.wait_for_selector('#presence[data-status="online"]')
    await page.wait_for_selector('#conn[data-state="live"]')
    return page


@needs_chromium
async def test_the_live_view_in_a_browser_alerts_reassigns_and_joins(
    browser: Any, service: PresenceService, store: HandoffStore
) -> None:
    sarah = await _desk(browser, service, "sarah")
    supervisor = await _page(browser, service, "dana")
    await supervisor.goto("/console/supervisor")
    await supervisor.wait_for_selector("#sv-live:not([hidden])")
    row = supervisor.locator('#sv-agents-body tr[data-agent="sarah"]')
    await row.locator('.sv-presence[data-presence="online"]').wait_for()
    assert await row.locator(".sv-load").text_content() == "0 of 2 chats"

    # A Hebrew customer waits (sarah speaks English only): the queue shows it live, then the alert.
    waiting = new_cid("wait")
    await store.request(hebrew_request(waiting))
    queued = supervisor.locator(f'#sv-queue-body tr[data-cid="{waiting}"]')
    await queued.wait_for()
    # Language and channel by name, in the supervisor's language, not as codes ("he", "web").
    assert [await cell.text_content() for cell in await queued.locator("td").all()][2:4] == ["Hebrew", "Web chat"]
    alert = supervisor.locator("#sv-alert")
    await alert.wait_for(state="visible", timeout=ALERT_SECONDS * 1000 + 8000)
    assert f"1 customer has waited more than {ALERT_SECONDS} seconds" in (await alert.text_content() or "")
    assert re.match(r"^\(1\) Long wait · ", await supervisor.title())

    # An English customer is given to sarah at once (auto-assignment), then the supervisor moves it to omer.
    chat = new_cid("chat")
    await store.request(english_request(chat))
    await row.locator(f'.sv-chats li[data-cid="{chat}"]').wait_for()
    assert await row.locator(".sv-load").text_content() == "1 of 2 chats"
    item = row.locator(f'.sv-chats li[data-cid="{chat}"]')
    await item.locator("select.sv-to").select_option("omer")
    await item.locator("button.sv-reassign").click()
    omer_row = supervisor.locator('#sv-agents-body tr[data-agent="omer"]')
    await omer_row.locator(f'.sv-chats li[data-cid="{chat}"]').wait_for()
    assert (await _conversation(store, chat)).agent_id == "omer"
    # Sarah's desk says why the chat left her.
    notice = sarah.locator(f'#presence-notices .presence-notice[data-cid="{chat}"]')
    await notice.wait_for(timeout=AWAY_SECONDS * 1000 + 8000)
    assert "A supervisor moved chat" in (await notice.text_content() or "")

    # The supervisor joins and writes; the customer gets it from the team, and sees what the customer says live.
    await omer_row.locator(f'.sv-chats li[data-cid="{chat}"] button.sv-join').click()
    await supervisor.locator("#sv-chat:not([hidden])").wait_for()
    await supervisor.fill("#sv-text", "Hello from the team")
    await supervisor.click("#sv-send")
    await supervisor.locator("#sv-events .sv-event", has_text="Hello from the team").wait_for()
    outbound = [f for _, f in await store.redis.xrange(KEYS.outbound())]
    assert {"text": "Hello from the team", "author_name": "The Kesher Shop team"}.items() <= outbound[-1].items()
    await store.add_event(chat, Event(kind=EventKind.CUSTOMER, text="Thanks, team!", author="customer"))
    await supervisor.locator("#sv-events .sv-event", has_text="Thanks, team!").wait_for()
    assert sarah.problems == [] and supervisor.problems == []
    await sarah.context.close()
    await supervisor.context.close()


@needs_chromium
async def test_a_silent_agents_customer_moves_on_and_their_desk_says_why(
    browser: Any, service: PresenceService, store: HandoffStore
) -> None:
    sarah = await _desk(browser, service, "sarah")
    dana = await _desk(browser, service, "dana")
    chat = new_cid("silent")
    # Whoever routing picks stays silent; the other one gets the customer.
    await store.request(english_request(chat))
    conv = await until(_with(store, chat), what="the chat assigned", timeout=5)
    first, other = ("sarah", "dana") if conv.agent_id == "sarah" else ("dana", "sarah")
    silent_page = sarah if first == "sarah" else dana
    await store.add_event(chat, Event(kind=EventKind.CUSTOMER, text="Anyone there?", author="customer"))
    moved = await until(_held_by(store, chat, other), what=f"the chat moved to {other}", timeout=15)
    assert moved.agent_id == other
    told = [e.text for e in await store.events(chat) if e.kind is EventKind.SYSTEM]
    assert catalog().text("agent_silent_moved", "en") in told
    notice = silent_page.locator(f'#presence-notices .presence-notice[data-cid="{chat}"]')
    await notice.wait_for(timeout=10_000)
    assert "without an answer" in (await notice.text_content() or "")
    await _logged(service, chat, ("handoff_transferred", other, "agent_silent"))
    await sarah.context.close()
    await dana.context.close()


def _held_by(store: HandoffStore, cid: str, agent_id: str):
    async def check():
        conv = await store.get(cid)
        ok = conv is not None and conv.state is ConversationState.WITH_AGENT and conv.agent_id == agent_id
        return conv if ok else None
    return check
