"""Rasa made faster: the same answers (action results, event types) and fingerprints that follow content."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
import rasa.shared.utils.io
import scipy.sparse as sp
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.engine.storage import local_model_storage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.tokenizers.tokenizer import Token
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, Event, SlotSet, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.utils.common import all_subclasses

from bot.rasa_speedups import _action_result_validator, _quickly_valid, event_from_dict, install, resolve_event_type
from handoff.policy import recent_intents


def test_valid_results_pass_and_invalid_ones_fail_with_rasas_message():
    assert install()
    action = RemoteAction("action_x", None)
    assert action._validate_action_result({"events": [{"event": "slot", "name": "a", "value": 1}], "responses": []})
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": "not a list"})
    with pytest.raises(ValidationError):
        action._validate_action_result({"events": [{"event": "no_such_event"}]})


_EVENTS = [
    {"event": "slot", "name": "a", "value": 1, "timestamp": None},
    {"event": "bot", "text": "hi", "data": {"buttons": []}, "metadata": {}},
    {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 0.9},
                                                   "entities": [{"entity": "order_id", "value": "104610"}],
                                                   "response_selector": {"all_retrieval_intents": []}}},
    {"event": "action", "name": "action_listen", "policy": None, "confidence": 1.0},
    {"event": "active_loop", "name": "order_form"},
    {"event": "followup", "name": "utter_greet"},
    {"event": "session_started"},
    {"event": "reset_slots"},
]
_NOT_VALID = [
    {"event": "slot", "value": 1},  # no name
    {"event": "slot", "name": 5, "value": 1},
    {"event": "user", "parse_data": {"intent": {"name": 3}}},
    {"event": "user", "parse_data": {"entities": [{"entity": "x"}]}},  # an entity without a value
    {"event": "bot", "timestamp": "yesterday"},
    {"event": "bot", "metadata": []},
    {"event": 7},
    {"name": "a"},
    {"event": "no_such_event"},
    "slot",
]


def test_the_quick_check_agrees_with_rasas_whole_schema():
    validator = _action_result_validator()
    results: List[Any] = [{"events": [event], "responses": []} for event in _EVENTS + _NOT_VALID]
    results += [{"events": _EVENTS, "responses": [{"text": "hi"}]}, {"events": "not a list"}, {"responses": ["x"]},
                {}, {"events": _EVENTS + _NOT_VALID[:1]}, []]
    for result in results:
        assert _quickly_valid(result) == validator.is_valid(result), result
    assert _quickly_valid({"events": _EVENTS, "responses": [{"text": "hi"}]})


def test_events_resolve_to_the_classes_rasa_finds() -> None:
    names = {cls.type_name for cls in all_subclasses(Event)}
    original = {name: next(c for c in all_subclasses(Event) if c.type_name == name) for name in names}
    for name in names:
        assert resolve_event_type(name) is original[name]
    assert resolve_event_type("topic") is None
    assert resolve_event_type("no_such_event", default=Event) is Event
    with pytest.raises(ValueError, match="Unknown event name 'no_such_event'"):
        resolve_event_type("no_such_event")
    slot = event_from_dict({"event": "slot", "name": "a", "value": 1, "timestamp": 5})
    assert slot is not None and slot.as_dict()["value"] == 1 and slot.timestamp == 5
    assert event_from_dict({"no": "event"}) is None


def _features(matrix: object) -> Features:
    return Features(matrix, "sentence", "text", "chars")


def test_a_features_fingerprint_follows_the_matrix_content():
    assert install()
    matrix = sp.coo_matrix(np.array([[0.0, 2.0, 0.0, 1.0]]))
    same = sp.coo_matrix(np.array([[0.0, 2.0, 0.0, 1.0]]))
    assert _features(matrix).fingerprint() == _features(same).fingerprint()
    for other in ([[0.0, 2.0, 0.0, 1.5]], [[0.0, 0.0, 2.0, 1.0]], [[0.0, 2.0, 0.0, 1.0, 0.0]]):
        assert _features(sp.coo_matrix(np.array(other))).fingerprint() != _features(matrix).fingerprint()
    assert _features(matrix.toarray()).fingerprint() != _features(matrix).fingerprint()  # dense is another kind
    assert Features(matrix, "sentence", "text", "words").fingerprint() != _features(matrix).fingerprint()


def test_container_fingerprints_follow_content_not_dict_order():
    assert install()
    fingerprint = rasa.shared.utils.io.deep_container_fingerprint
    assert fingerprint({"a": 1, "b": [1, 2]}) == fingerprint({"b": [1, 2], "a": 1})
    assert fingerprint([1, 2]) != fingerprint([2, 1])
    assert fingerprint({"a": 1}) != fingerprint({"a": 2})
    # not plain JSON (a set, a path, mixed keys): hashed part by part, still by content
    assert fingerprint({"a": {1, 2}, "p": Path("/x")}) == fingerprint({"p": Path("/x"), "a": {1, 2}})
    assert fingerprint({"a": {1, 2}}) != fingerprint({"a": {1, 3}})
    assert fingerprint({1: "x", "b": 2}) != fingerprint({1: "y", "b": 2})
    # an object with a fingerprint goes in by it
    row = sp.coo_matrix(np.array([[1.0, 0.0]]))
    assert fingerprint([_features(row)]) != fingerprint([_features(sp.coo_matrix(np.array([[0.0, 1.0]])))])
    # the trackers' and events' fingerprints use it
    assert SlotSet("a", 1).fingerprint() != SlotSet("a", 2).fingerprint()


def test_a_messages_fingerprint_follows_its_tokens_and_features():
    assert install()

    def message(lemma: str, features: int = 0) -> Message:
        built = Message({TEXT: "hello there", TOKENS_NAMES[TEXT]: [Token("hello", 0, lemma=lemma), Token("there", 6)]})
        for value in range(features):
            built.add_features(_features(sp.coo_matrix(np.array([[float(value + 1)]]))))
        return built

    assert message("hello") == message("hello")
    assert message("hello").fingerprint() != message("hi").fingerprint()
    assert message("hello", 1).fingerprint() != message("hello").fingerprint()
    assert message("hello", 1).fingerprint() != message("hello", 2).fingerprint()
    changed = message("hello")
    before = changed.fingerprint()
    changed.set("intent", "greet")
    assert changed.fingerprint() != before


def test_models_are_packed_at_gzips_fastest_level_and_read_back_whole(tmp_path: Path):
    assert install()
    content = tmp_path / "model"
    (content / "component").mkdir(parents=True)
    vectors = np.random.default_rng(1).standard_normal((500, 384)).astype(np.float32)
    (content / "component" / "vectors.npy").write_bytes(vectors.tobytes())
    archive = tmp_path / "model.tar.gz"
    with local_model_storage.TarSafe.open(archive, "w:gz") as tar:
        tar.add(content, arcname="")
    assert archive.read_bytes()[8] == 4  # gzip's XFL byte: 4 = fastest, 2 = slowest (Rasa's default)
    with local_model_storage.TarSafe.open(archive, mode="r:gz") as tar:
        member = tar.extractfile("component/vectors.npy")
        assert member is not None and member.read() == vectors.tobytes()


def _parse(text: str, intent: str, answer: str = "") -> Dict[str, Any]:
    selector: Dict[str, Any] = {"all_retrieval_intents": ["faq"], "faq": {
        "response": {"responses": [{"text": f"the {answer} answer"}, {"text": f"התשובה על {answer}"}],
                     "confidence": 0.9, "intent_response_key": f"faq/{answer or 'hours'}",
                     "utter_action": f"utter_faq/{answer or 'hours'}"},
        "ranking": [{"confidence": 0.9 - i / 20, "intent_response_key": f"faq/other_{i}"} for i in range(10)]}}
    return {"text": text, "intent": {"name": intent, "confidence": 0.95},
            "intent_ranking": [{"name": f"intent_{i}", "confidence": 0.1} for i in range(10)],
            "entities": [{"entity": "order_id", "value": "104610", "start": 6, "end": 12}] if "104610" in text else [],
            "response_selector": selector}


def test_an_action_call_carries_earlier_messages_without_rankings_and_the_latest_whole():
    assert install()
    said = [("hi", "greet", ""), ("when are you open", "faq", "opening_hours"), ("order 104610", "order_status", ""),
            ("can I pay with bit", "faq", "payments")]
    tracker = DialogueStateTracker.from_events("slim", [
        event for text, intent, answer in said
        for event in (UserUttered(text, {"name": intent, "confidence": 0.95}, None, _parse(text, intent, answer)),
                      ActionExecuted("action_listen"))])
    full = tracker.current_state(EventVerbosity.ALL)
    body = RemoteAction("action_handoff", None)._action_call_format(tracker, Domain.empty())
    events = body["tracker"]["events"]
    users = [e for e in events if e["event"] == "user"]
    assert [e["text"] for e in users] == [text for text, _, _ in said]
    latest = _parse(*said[-1])
    for whole in (users[-1]["parse_data"], body["tracker"]["latest_message"]):
        assert {key: whole.get(key) for key in latest} == latest
    for event in users[:-1]:
        assert "intent_ranking" not in event["parse_data"] and "ranking" not in event["parse_data"][
            "response_selector"]["faq"]
        assert "responses" not in event["parse_data"]["response_selector"]["faq"]["response"]
    assert users[2]["parse_data"]["entities"] == _parse(*said[2])["entities"]
    # what the actions read of earlier messages is all there: the handoff's topic, for one
    assert recent_intents(events) == recent_intents(full["events"]) == [
        "greet", "faq/opening_hours", "order_status", "faq/payments"]
    assert [e for e in events if e["event"] != "user"] == [e for e in full["events"] if e["event"] != "user"]
    assert len(json.dumps(body)) < 0.7 * len(json.dumps({**body, "tracker": full}))
