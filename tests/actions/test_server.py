"""The action server over real HTTP: every action the domain names answers, with the process's backends,
and only to a caller bearing the shared token."""

from __future__ import annotations

import itertools
import zlib
from typing import Any, Dict

import httpx
import pytest
from rasa.utils.endpoints import read_endpoint_config

from actions.backends import Backends
from actions.server import ACTIONS, build_actions, create_app
from core.settings import PROJECT_ROOT, Settings
from tests.helpers.backends import orders_where, pick
from tests.helpers.metrics import scrape
from tests.helpers.sanic_server import serving
from tests.helpers.texts import catalog
from tests.helpers.trackers import default_slots

_names = itertools.count()
TOKEN = "test-actions-token-0123456789"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


def _app(backends: Backends):
    return create_app(backends, TOKEN, name=f"actions-{next(_names)}")


def _call(domain: Dict[str, Any], action: str, language: str, **slot_values: Any) -> Dict[str, Any]:
    slots = default_slots(domain)
    slots["language"] = language
    slots.update(slot_values)
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
    app = _app(backends)
    async with serving(app) as base, httpx.AsyncClient(timeout=30, headers=AUTH) as http:
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
    app = _app(backends)
    async with serving(app) as base, httpx.AsyncClient(timeout=30, headers=AUTH) as http:
        response = await http.post(f"{base}/webhook", content=body, headers=headers)
    assert response.status_code == status
    assert response.json()["error"]


async def test_an_unknown_action_is_a_404_naming_it(backends: Backends, domain: Dict[str, Any]) -> None:
    app = _app(backends)
    async with serving(app) as base, httpx.AsyncClient(timeout=30, headers=AUTH) as http:
        response = await http.post(f"{base}/webhook", json=_call(domain, "action_no_such_thing", "en"))
    assert response.status_code == 404 and response.json()["action_name"] == "action_no_such_thing"


@pytest.mark.parametrize("headers, status, reason", [
    ({}, 401, "KESHER_ACTIONS_TOKEN"),
    ({"Authorization": "Bearer not-the-token"}, 403, "wrong action server token"),
    ({"Authorization": f"Basic {TOKEN}"}, 401, "Bearer"),
    ({"Authorization": "Bearer " + TOKEN[:-1]}, 403, "wrong action server token"),
], ids=["no-token", "wrong-token", "not-bearer", "token-prefix"])
async def test_a_call_without_the_token_is_refused_with_the_reason(
    backends: Backends, domain: Dict[str, Any], headers: Dict[str, str], status: int, reason: str
) -> None:
    order = pick(orders_where(backends, status="shipped"))
    call = _call(domain, "action_order_task", "en", order_task="status", order_id=order.order_id,
                 contact=order.email, verified_email=order.email)
    async with serving(_app(backends)) as base, httpx.AsyncClient(timeout=30) as http:
        response = await http.post(f"{base}/webhook", json=call, headers=headers)
        listing = await http.get(f"{base}/actions", headers=headers)
        health = await http.get(f"{base}/health", headers=headers)
    assert response.status_code == status and reason in response.json()["error"]
    assert order.tracking_number and order.tracking_number not in response.text
    assert listing.status_code == status
    assert health.status_code == 200  # the readiness probe stays open


def test_the_server_refuses_to_run_without_a_token(backends: Backends) -> None:
    with pytest.raises(ValueError, match="KESHER_ACTIONS_TOKEN"):
        create_app(backends, "", name=f"actions-{next(_names)}")


async def test_a_forged_tracker_with_the_token_but_not_the_orders_contact_reads_and_changes_nothing(
    backends: Backends, domain: Dict[str, Any]
) -> None:
    order = pick(orders_where(backends, status="processing"), seed=5)
    forged = {"order_id": order.order_id, "contact": "attacker@example.com", "verified_email": "attacker@example.com",
              "order_task_allowed": True}
    async with serving(_app(backends)) as base, httpx.AsyncClient(timeout=30, headers=AUTH) as http:
        status = await http.post(f"{base}/webhook", json=_call(domain, "action_order_task", "en",
                                                                order_task="status", **forged))
        moved = await http.post(f"{base}/webhook", json=_call(domain, "action_order_task", "en",
                                                               order_task="change_address",
                                                               new_address="Attacker St 9, Eilat", **forged))
        cancelled = await http.post(f"{base}/webhook", json=_call(domain, "action_order_task", "en",
                                                                   order_task="cancel", cancel_confirmed=True,
                                                                   **forged))
    for response in (status, moved, cancelled):
        assert response.status_code == 200, response.text
        said = " ".join(r.get("text") or "" for r in response.json()["responses"])
        for detail in (order.items[0].name_en, order.shipping_address, "Attacker St 9"):
            assert detail not in said
    after = await backends.orders.get(order.order_id)
    assert after is not None
    assert after.shipping_address == order.shipping_address and after.status == "processing"


def test_rasa_sends_the_token_from_endpoints_yml(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(actions_token="from-the-environment-42")
    for variable, value in settings.child_env({}).items():
        monkeypatch.setenv(variable, value)
    endpoint = read_endpoint_config(str(PROJECT_ROOT / "endpoints.yml"), "action_endpoint")
    assert endpoint is not None and endpoint.url == settings.action_server_url
    assert endpoint.headers == {"Authorization": "Bearer from-the-environment-42"}


async def test_metrics_count_each_action_its_time_and_its_refusals_without_the_token(
    backends: Backends, domain: Dict[str, Any]
) -> None:
    app = _app(backends)
    async with serving(app) as base, httpx.AsyncClient(timeout=30, headers=AUTH) as http:
        before = await scrape(base)  # no token: Prometheus scrapes on loopback; counts hold no customer data
        for _ in range(2):
            assert (await http.post(f"{base}/webhook", json=_call(domain, "action_ask_order_id", "en"))).is_success
        missing = await http.post(f"{base}/webhook", json=_call(domain, "action_no_such_thing", "en"))
        assert missing.status_code == 404
        after = await scrape(base)

    def moved(name: str, **labels: str) -> float:
        return after.value(name, **labels) - before.value(name, **labels)

    assert moved("kesher_action_calls_total", action="action_ask_order_id") == 2
    assert moved("kesher_action_seconds_count", action="action_ask_order_id") == 2
    assert after.types["kesher_action_seconds"] == "histogram"
    assert moved("kesher_action_errors_total", action="action_ask_order_id", kind="rejected") == 0
    # an unknown name is one series, "unknown", whatever a caller sends
    assert moved("kesher_action_errors_total", action="unknown", kind="not_found") == 1
    assert not after.has("kesher_action_calls_total", action="action_no_such_thing")
