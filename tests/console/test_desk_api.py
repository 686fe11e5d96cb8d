"""The desk's additions over real HTTP: the language switch, the team's presence and load, search, previews."""

from __future__ import annotations

from typing import Any, Dict, List

import httpx
from redis.asyncio import Redis

from core.redis_keys import RedisKeys
from handoff.models import Event, EventKind
from handoff.state import HandoffStore
from tests.console.conftest import WRITER, Service, english_request, hebrew_request, login, new_cid
from tests.helpers.texts import catalog


def _client(console_service: Service) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=console_service.base_url, follow_redirects=False, timeout=15)


async def _search(client: httpx.AsyncClient, query: str) -> List[Dict[str, Any]]:
    response = await client.get("/console/api/search", params={"q": query})
    assert response.status_code == 200, response.text
    results: List[Dict[str, Any]] = response.json()["results"]
    return results


async def test_the_language_switch_is_remembered_for_the_agent_across_logins(
    console_service: Service, redis_client: Redis
):
    texts = catalog()
    async with _client(console_service) as first, _client(console_service) as second:
        csrf = await login(first, "sarah")
        page = await first.get("/console")
        assert '<html lang="en" dir="ltr">' in page.text
        assert f'lang="he" dir="rtl" title="{texts.text("console_language_switch_label", "en")}">עברית</button>' \
            in page.text

        no_token = await first.post("/console/language", data={"language": "he", "next": "/console"})
        assert no_token.status_code == 403
        wrong = await first.post("/console/language", data={"language": "fr", "csrf_token": csrf},
                                 headers={"Accept": "application/json"})
        assert wrong.status_code == 400 and wrong.json()["error"] == texts.text("console_error_ui_language", "en")

        chosen = await first.post("/console/language",
                                  data={"language": "he", "next": "/console/mail?x=1", "csrf_token": csrf})
        assert chosen.status_code == 303 and chosen.headers["location"] == "/console/mail?x=1"
        assert await redis_client.get(RedisKeys().console_ui_language("sarah")) == "he"
        page = await first.get("/console")
        assert '<html lang="he" dir="rtl">' in page.text
        assert texts.text("console_queue_title", "he") in page.text
        # an API refusal speaks it too
        refused = await first.get("/console/api/chats/nope%20nope")
        assert refused.json()["error"] == texts.text("console_error_no_conversation", "he", cid="nope nope")

        # another login (another session, as on another replica) reads the same choice
        await login(second, "sarah")
        assert '<html lang="he" dir="rtl">' in (await second.get("/console")).text

        # "next" never leads off the console
        for target in ("https://evil.example/console", "//evil.example/console", "/elsewhere", "/console\\@x"):
            back = await first.post("/console/language", data={"language": "en", "next": target, "csrf_token": csrf})
            assert back.status_code == 303 and back.headers["location"] == "/console", target
        assert '<html lang="en" dir="ltr">' in (await second.get("/console")).text


async def test_the_transfer_list_says_who_is_online_and_how_full(
    console_service: Service, live_store: HandoffStore, redis_client: Redis
):
    async with _client(console_service) as dana, _client(console_service) as omer:
        await login(dana, "dana")
        omer_csrf = await login(omer, "omer")
        before = {a["id"]: a for a in (await dana.get("/console/api/agents")).json()["agents"]}
        assert "dana" not in before and {"omer", "sarah"} <= set(before)
        assert before["omer"]["presence"] == "offline" and before["omer"]["load"] == 0
        assert before["sarah"]["capacity"] == 2

        h = {"X-CSRF-Token": omer_csrf}
        assert (await omer.post("/console/api/presence", json={"status": "online"}, headers=h)).status_code == 200
        cid = new_cid("load")
        await live_store.request(hebrew_request(cid))
        assert (await omer.post(f"/console/api/chats/{cid}/take", headers=h)).status_code == 200
        after = {a["id"]: a for a in (await dana.get("/console/api/agents")).json()["agents"]}
        assert after["omer"] == {"id": "omer", "name": "Omer Katz", "languages": ["he"], "presence": "online",
                                 "load": 1, "capacity": 3}
        assert (await omer.post("/console/api/presence", json={"status": "away"}, headers=h)).status_code == 200
        assert {a["id"]: a for a in (await dana.get("/console/api/agents")).json()["agents"]}["omer"]["presence"] \
            == "away"


async def test_search_finds_by_reference_name_email_phone_and_text_only_what_the_agent_may_read(
    console_service: Service, live_store: HandoffStore, redis_client: Redis
):
    async with _client(console_service) as dana, _client(console_service) as omer, \
            _client(console_service) as sarah, _client(console_service) as writer, _client(console_service) as nobody:
        dana_csrf = await login(dana, "dana")
        omer_csrf = await login(omer, "omer")
        await login(sarah, "sarah")
        await login(writer, WRITER, landing="/console/writers")
        for client, csrf in ((dana, dana_csrf), (omer, omer_csrf)):
            await client.post("/console/api/presence", json={"status": "online"}, headers={"X-CSRF-Token": csrf})

        queued = new_cid("srch")
        request = english_request(queued)
        request.customer_name, request.email, request.phone = "Rachel Green", "rachel@example.com", "+972-54-123-4567"
        await live_store.request(request)
        omers = new_cid("srch")
        await live_store.request(hebrew_request(omers))
        assert (await omer.post(f"/console/api/chats/{omers}/take", headers={"X-CSRF-Token": omer_csrf})).is_success
        await live_store.add_event(omers, Event(kind=EventKind.CUSTOMER, author="customer",
                                                text="הכוס הכחולה הגיעה סדוקה לגמרי"))
        closed = new_cid("srch")
        request = english_request(closed)
        request.customer_name = "Zelda Fitzgerald"
        await live_store.request(request)
        assert (await dana.post(f"/console/api/chats/{closed}/take", headers={"X-CSRF-Token": dana_csrf})).is_success
        await live_store.add_event(closed, Event(kind=EventKind.CUSTOMER, author="customer",
                                                 text="The lid of the teapot is missing"))
        assert (await dana.post(f"/console/api/chats/{closed}/close", headers={"X-CSRF-Token": dana_csrf},
                                json={"resolution": "resolved"})).is_success

        by_reference = await _search(sarah, f"k-{queued[-6:]}")  # any case
        assert [(r["cid"], r["field"], r["mine"], r["state"]) for r in by_reference] == \
            [(queued, "reference", False, "queued")]
        assert [r["cid"] for r in await _search(sarah, "rachel gr")] == [queued]
        assert [r["field"] for r in await _search(sarah, "RACHEL@example")] == ["email"]
        assert [(r["cid"], r["field"]) for r in await _search(sarah, "054 123 45")] == [(queued, "phone")]

        # what was said: Omer finds his own chat by its words, marked as his
        said = await _search(omer, "סדוקה")
        assert [(r["cid"], r["field"], r["mine"]) for r in said] == [(omers, "text", True)]
        assert "סדוקה" in said[0]["snippet"]
        # Sarah may not read Omer's chat or Dana's closed one; the supervisor reads both, not as hers
        assert await _search(sarah, "סדוקה") == []
        assert await _search(omer, "teapot") == [] and await _search(omer, "Zelda") == []
        supervisor = await _search(dana, "teapot")
        assert [(r["cid"], r["state"], r["field"], r["mine"]) for r in supervisor] == \
            [(closed, "closed", "text", False)]
        assert [(r["cid"], r["mine"]) for r in await _search(dana, "סדוקה")] == [(omers, False)]
        assert await _search(dana, "") == []

        too_long = await dana.get("/console/api/search", params={"q": "x" * 101})
        assert too_long.status_code == 400 and "100" in too_long.json()["error"]
        assert (await writer.get("/console/api/search", params={"q": "Rachel"})).status_code == 403
        assert (await nobody.get("/console/api/search", params={"q": "Rachel"},
                                 headers={"Accept": "application/json"})).status_code == 401
        assert (await nobody.get("/console/api/agents", headers={"Accept": "application/json"})).status_code == 401


async def test_my_chats_carry_the_last_message_for_the_preview(
    console_service: Service, live_store: HandoffStore, redis_client: Redis
):
    async with _client(console_service) as omer:
        csrf = await login(omer, "omer")
        h = {"X-CSRF-Token": csrf}
        await omer.post("/console/api/presence", json={"status": "online"}, headers=h)
        cid = new_cid("prev")
        await live_store.request(hebrew_request(cid))
        assert (await omer.post(f"/console/api/chats/{cid}/take", headers=h)).is_success
        chats = (await omer.get("/console/api/chats")).json()["chats"]
        assert [(c["cid"], c["last"]) for c in chats] == [(cid, None)]  # the "joined" notice is not a message

        await live_store.add_event(cid, Event(kind=EventKind.CUSTOMER, author="customer", text="איפה החבילה?"))
        assert (await omer.post(f"/console/api/chats/{cid}/notes", json={"text": "internal only"},
                                headers=h)).status_code == 201
        last = (await omer.get("/console/api/chats")).json()["chats"][0]["last"]
        assert last["kind"] == "customer" and last["text"] == "איפה החבילה?"  # a note is no message
        sent = await omer.post(f"/console/api/chats/{cid}/messages", json={"text": "בודקים עכשיו " * 20}, headers=h)
        assert sent.status_code == 201
        last = (await omer.get("/console/api/chats")).json()["chats"][0]["last"]
        assert last["kind"] == "agent" and last["author"] == "omer" and len(last["text"]) == 120


async def test_the_favicon_is_served_and_linked(console_service: Service):
    async with _client(console_service) as client:
        icon = await client.get("/console/static/favicon.svg")
        assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg")
        page = await client.get("/console/login")
        assert '<link rel="icon" type="image/svg+xml" href="/console/static/favicon.svg?v=' in page.text
