"""The faster action-result check accepts and rejects exactly what Rasa's does."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError
from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

from bot.rasa_speedups import event_from_dict, install, resolve_event_type


def test_valid_results_pass_and_invalid_ones_fail_with_rasas_message():
    assert install()
    action = RemoteAction("action_x", None)
    assert action._validate_action_result({"events": [{"event": "slot", "name": "a", "value": 1}], "responses": []})
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        action._validate_action_result({"events": "not a list"})
    with pytest.raises(ValidationError):
        action._validate_action_result({"events": [{"event": "no_such_event"}]})


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
