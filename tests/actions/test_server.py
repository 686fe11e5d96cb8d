"""The action server over real HTTP: every action the domain names answers, with the process's backends."""

from __future__ import annotations

import itertools
import zlib
from typing import Any, Dict

import httpx
import pytest

from actions.backends import Backends
from actions.server import ACTIONS, build_actions, create_app
from tests.helpers.sanic_server import serving
from tests.helpers.texts import catalog
from tests.helpers.trackers import default_slots

_names = itertools.count()


def _call(domain: Dict[str, Any], action: str, language: str) -> Dict[str, Any]:
    slots = default_slots(domain)
    slots["language"] = language
    return {
        "next_action": action,
        "sender_id": "server-test",
        "version": "3.6.2",
        "domain": domain,
        "tracker": {
            "sender_id": "server-test", "slots": slots, "latest_message": {"text": "", "intent": {}, "entities": []},
            "events": [], "paused": False, "followup_action": None, "active_loop": {}, "latest_action_name": None,
        },
    }


def test_every_custom_action_of_the_domain_is_served(backends: Backends, domain: Dict[str, Any]) -> None:
    named = {a for a in domain["actions"] if a.startswith(("action_", "validate_"))}
    served = {action.name() for action in build_actions(backends)}
    assert len(served) == len(ACTIONS)
    assert named and named - served == set()


async def test_an_action_speaks_the_catalogs_words_in_the_customers_language(
    backends: Backends, domain: Dict[str, Any]
) -> None:
    app = create_app(backends, name=f"actions-{next(_names)}")
    async with serving(app) as base, httpx.AsyncClient(timeout=30) as http:
        assert (await http.get(f"{base}/health")).json() == {"status": "ok"}
        for language in ("he", "en"):
            response = await http.post(f"{base}/webhook", json=_call(domain, "action_ask_order_id", language))
            assert response.status_code == 200, response.text
            said = [r["text"] for r in response.json()["responses"]]
            assert said == [catalog().text("ask_order_id", language)]
        # Rasa may deflate its calls.
        deflated = zlib.compress(httpx.Request("POST", base, json=_call(domain, "action_ask_order_id", "he")).read())
        response = await http.post(f"{base}/webhook", content=deflated, headers={"Content-Encoding": "deflate"})
        assert response.status_code == 200 and response.json()["responses"][0]["text"] == catalog().text(
            "ask_order_id", "he")


@pytest.mark.parametrize("body, headers, status", [
    (b"{not json", {}, 400),
    (b"[1, 2]", {}, 400),
    (b"[" * 5000 + b"]" * 5000, {}, 400),
    (b"not deflated", {"Content-Encoding": "deflate"}, 400),
], ids=["not-json", "not-an-object", "nested-5000-deep", "bad-deflate"])
async def test_malformed_calls_get_a_4xx_with_a_reason(backends: Backends, body: bytes, headers: Dict[str, str],
                                                        status: int) -> None:
    app = create_app(backends, name=f"actions-{next(_names)}")
    async with serving(app) as base, httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"{base}/webhook", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]


async def test_an_unknown_action_is_a_404_naming_it(backends: Backends, domain: Dict[str, Any]) -> None:
    app = create_app(backends, name=f"actions-{next(_names)}")
    async with serving(app) as base, httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"{base}/webhook", json=_call(domain, "action_no_such_thing", "en"))
    assert response.status_code == 404 and response.json()["action_name"] == "action_no_such_thing"
