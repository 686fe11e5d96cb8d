"""The actions endpoints.yml lists under ``turn_only_actions`` answer the same with only the turn's events.

Rasa sends those actions the events from the customer's latest message on (bot/rasa_speedups.py). Each is
called through the real action server twice with the same conversation: once as Rasa itself would call it (every
event, the whole domain), once as Kesher's Rasa does; the answers must be the same.
"""

from __future__ import annotations

import json
import time
from typing import Any, Dict, List

import httpx
import pytest
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, ActiveLoop, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.utils.endpoints import EndpointConfig, read_endpoint_config

from actions.backends import Backends
from actions.server import create_app
from bot import rasa_speedups
from core.settings import PROJECT_ROOT, Settings
from tests.helpers.backends import orders_where, pick
from tests.helpers.sanic_server import serving

TOKEN = "test-actions-token-turn-only"


@pytest.fixture
def listed(monkeypatch: pytest.MonkeyPatch) -> EndpointConfig:
    """endpoints.yml's action endpoint, read as Rasa reads it."""
    for variable, value in Settings(actions_token=TOKEN).child_env({}).items():
        monkeypatch.setenv(variable, value)
    endpoint = read_endpoint_config(str(PROJECT_ROOT / "endpoints.yml"), "action_endpoint")
    assert endpoint is not None
    return endpoint


def _said(text: str, intent: str) -> UserUttered:
    parse = {"text": text, "intent": {"name": intent, "confidence": 0.93}, "entities": [],
             "intent_ranking": [{"name": intent, "confidence": 0.93}, {"name": "faq", "confidence": 0.04}]}
    return UserUttered(text, parse["intent"], [], parse, input_channel="kesher_rest")


def _earlier_conversation() -> List[Event]:
    """A conversation with earlier messages an action reading history would notice."""
    events: List[Event] = [SessionStarted(), ActionExecuted("action_listen"), SlotSet("language", "en")]
    for text, intent, answer in (("hi", "greet", "utter_greet"), ("when are you open?", "faq", "utter_faq"),
                                 ("my order is late, this is the third time!!", "complain_late",
                                  "utter_late_empathy")):
        events += [_said(text, intent), ActionExecuted(answer), ActionExecuted("action_listen")]
    return events


def _form_turn(form: str, text: str, intent: str, slots: Dict[str, Any], candidate: Dict[str, Any]) -> List[Event]:
    """The customer's message inside ``form``, with the slots already filled and the new candidates last."""
    events: List[Event] = [ActionExecuted(form), ActiveLoop(form)]
    events += [SlotSet(name, value) for name, value in slots.items()]
    events += [ActionExecuted("action_listen"), _said(text, intent), ActionExecuted("action_extract_slots")]
    events += [SlotSet(name, value) for name, value in candidate.items()]
    return events


def _cases(order: Any) -> List[tuple[str, List[Event]]]:
    verified = {"order_id": order.order_id, "contact": order.email, "verified_email": order.email}
    return [
        ("validate_order_form", _form_turn("order_form", f"#{order.order_id}", "inform",
                                           {"order_task": "status", "requested_slot": "order_id"},
                                           {"order_id": f"#{order.order_id}"})),
        ("validate_order_form", _form_turn("order_form", order.email, "inform",
                                           {"order_task": "status", "order_id": order.order_id,
                                            "requested_slot": "contact"}, {"contact": order.email})),
        ("validate_order_form", _form_turn("order_form", "someone@example.com", "inform",
                                           {"order_task": "status", "order_id": order.order_id,
                                            "requested_slot": "contact"}, {"contact": "someone@example.com"})),
        ("action_ask_order_id", _form_turn("order_form", "where is my order", "order_status",
                                           {"order_task": "status"}, {"requested_slot": "order_id"})),
        ("action_ask_contact", _form_turn("order_form", order.order_id, "inform",
                                          {"order_task": "status", "order_id": order.order_id},
                                          {"requested_slot": "contact"})),
        ("action_ask_new_address", _form_turn("order_form", order.email, "inform",
                                              {"order_task": "change_address", **verified},
                                              {"requested_slot": "new_address"})),
        ("action_ask_cancel_confirmed", _form_turn("order_form", order.email, "inform",
                                                   {"order_task": "cancel", **verified},
                                                   {"requested_slot": "cancel_confirmed"})),
        ("action_ask_return_reason", _form_turn("order_form", order.email, "inform",
                                                {"order_task": "return", **verified},
                                                {"requested_slot": "return_reason"})),
        ("validate_callback_form", _form_turn("callback_form", "050-1234567", "inform",
                                              {"requested_slot": "callback_phone"},
                                              {"callback_phone": "050-1234567"})),
        ("validate_callback_form", _form_turn("callback_form", "12", "inform",
                                              {"requested_slot": "callback_phone"}, {"callback_phone": "12"})),
        ("action_ask_callback_phone", _form_turn("callback_form", "call me back", "request_callback", {},
                                                 {"requested_slot": "callback_phone"})),
        ("action_ask_callback_time", _form_turn("callback_form", "050-1234567", "inform",
                                                {"callback_phone": "050-1234567"},
                                                {"requested_slot": "callback_time"})),
    ]


def test_endpoints_yml_lists_the_form_actions_and_none_that_reads_earlier_messages(listed: EndpointConfig) -> None:
    names = set(listed.kwargs[rasa_speedups.TURN_ONLY_ACTIONS])
    assert {"validate_order_form", "action_ask_contact", "validate_callback_form"} <= names
    # These read earlier messages (the handoff's summary, a late order's complaint, the session's answers).
    assert names.isdisjoint({"action_handoff", "action_order_task", "action_ask_csat", "action_fallback"})


async def test_each_listed_action_answers_the_same_with_the_turns_events_only(backends: Backends,
                                                                              listed: EndpointConfig) -> None:
    assert rasa_speedups.install()
    domain = Domain.load(str(PROJECT_ROOT / "domain"))
    order = pick(orders_where(backends, status="shipped"))
    cases = _cases(order)
    assert {name for name, _ in cases} == set(listed.kwargs[rasa_speedups.TURN_ONLY_ACTIONS])
    plain = EndpointConfig(listed.url, headers=listed.headers, enable_selective_domain=True)
    app = create_app(backends, TOKEN, name="actions-turn-only")
    async with serving(app) as base, httpx.AsyncClient(
            timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}) as http:
        for name, turn in cases:
            tracker = DialogueStateTracker.from_events(f"turn-only-{time.monotonic_ns()}",
                                                       _earlier_conversation() + turn, domain.slots)
            as_rasa = rasa_speedups._RASA_ACTION_CALL_FORMAT(RemoteAction(name, plain), tracker, domain)
            as_kesher = RemoteAction(name, listed)._action_call_format(tracker, domain)
            assert as_kesher["tracker"]["events"][0]["event"] == "user"
            assert len(json.dumps(as_kesher)) < len(json.dumps(as_rasa)) / 2
            answers = []
            for body in (as_rasa, as_kesher):
                response = await http.post(f"{base}/webhook", json=body)
                answers.append((response.status_code, response.json()))
            assert answers[0] == answers[1], name
            assert answers[0][0] in (200, 400), answers[0]
            if name.startswith("action_ask"):
                assert answers[0][1]["responses"], f"{name} said nothing"


@pytest.mark.parametrize("name", ["action_order_task", "action_handoff", "action_ask_csat"])
def test_actions_that_read_earlier_messages_get_every_event(name: str, listed: EndpointConfig) -> None:
    assert rasa_speedups.install()
    domain = Domain.load(str(PROJECT_ROOT / "domain"))
    tracker = DialogueStateTracker.from_events("whole", _earlier_conversation() + _form_turn(
        "order_form", "x@example.com", "inform", {"order_task": "status"}, {}), domain.slots)
    body = RemoteAction(name, listed)._action_call_format(tracker, domain)
    assert len(body["tracker"]["events"]) == len(tracker.events)
    assert [e["text"] for e in body["tracker"]["events"] if e["event"] == "user"][2].startswith("my order is late")
