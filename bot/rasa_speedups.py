"""A measured fix for Rasa 3.6's slowest step, applied when Rasa loads our components.

Rasa 3.6 checks every action-server response with ``jsonschema.validate``.
With the jsonschema 4.17 that Rasa pins, ``validate`` first re-checks the
*schema* against the draft-2020-12 meta-schema, on every call: 55 ms of CPU
per custom action with events, more than everything else in a turn together
(profiled with cProfile over 50 turns). :func:`install` keeps Rasa's check and
its error message but builds the validator once, so the schema is checked once
per process.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict

import rasa
from jsonschema import ValidationError
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

__all__ = ["install"]

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


def install() -> bool:
    """Replaces ``RemoteAction._validate_action_result`` on the Rasa version it was measured on.

    Returns:
        Whether the fix was installed (not on another Rasa version).
    """
    if rasa.__version__ != _RASA_VERSION:
        return False
    RemoteAction._validate_action_result = _validate_action_result
    return True
