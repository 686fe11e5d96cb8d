"""Measured fixes for Rasa 3.6's slowest steps, applied when Rasa loads our components.

Rasa 3.6 checks every action-server response with ``jsonschema.validate``.
With the jsonschema 4.17 that Rasa pins, ``validate`` first re-checks the
*schema* against the draft-2020-12 meta-schema, on every call: 55 ms of CPU
per custom action with events, more than everything else in a turn together
(profiled with cProfile over 50 turns). :func:`install` keeps Rasa's check and
its error message but builds the validator once, so the schema is checked once
per process.

Rasa 3.6 finds an event's class (``Event.resolve_by_type``, on every event it
reads from a tracker store, an action's answer or its API) by walking every
subclass of ``Event`` and checking each for abstractness: about 0.2 ms per event,
a tenth of a turn's CPU under cProfile with the tracker store's window of about
150 events. :func:`install` remembers the classes by type name (the first match
of Rasa's own order, looked up again when an unknown name comes), with Rasa's
answers for unknown names.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict, Optional, Type

import rasa
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL
from rasa.shared.core.events import Event
from rasa.shared.utils.common import all_subclasses

__all__ = ["event_from_dict", "install", "resolve_event_type"]

_RASA_VERSION = "3.6.21"


@lru_cache(maxsize=1)
def _action_result_validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    cls = validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _validate_action_result(self: Any, result: Dict[str, Any]) -> bool:
    try:
        _action_result_validator().validate(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            f"Action endpoint is valid. For more information about the format visit {DOCS_BASE_URL}/custom-actions"
        )
        raise


_EVENT_TYPES: Dict[str, Type[Event]] = {}


def resolve_event_type(type_name: str, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    """``Event.resolve_by_type`` with the classes remembered by type name (same answers).

    Raises:
        ValueError: An unknown type name and no ``default`` (as Rasa's).
    """
    found = _EVENT_TYPES.get(type_name)
    if found is None:
        for cls in all_subclasses(Event):
            _EVENT_TYPES.setdefault(cls.type_name, cls)
        found = _EVENT_TYPES.get(type_name)
    if found is not None:
        return found
    if type_name == "topic":
        return None  # Rasa's backwards compatibility with old TopicSet events
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def event_from_dict(parameters: Dict[str, Any]) -> Optional[Event]:
    """``Event.from_parameters`` through :func:`resolve_event_type`."""
    name = parameters.get("event")
    cls = resolve_event_type(name) if name is not None else None
    return cls._from_parameters(parameters) if cls is not None else None


def install() -> bool:
    """Installs both fixes on the Rasa version they were measured on.

    Replaces ``RemoteAction._validate_action_result`` and ``Event.resolve_by_type``.

    Returns:
        Whether the fixes were installed (not on another Rasa version).
    """
    if rasa.__version__ != _RASA_VERSION:
        return False
    RemoteAction._validate_action_result = _validate_action_result
    Event.resolve_by_type = staticmethod(resolve_event_type)
    return True
