"""Reading request bodies the same way in every Sanic app: a JSON object, its text fields.

Malformed input is an :class:`~core.errors.InvalidInput`, oversized input a
:class:`~core.errors.TooLarge`, each with a message that says what was expected.
"""

from __future__ import annotations

import json
from typing import Any, Dict, Mapping, Optional, Union

from sanic.request import Request

from core.errors import InvalidInput, TooLarge

__all__ = ["MAX_JSON_BYTES", "MAX_TEXT_CHARS", "json_object", "parse_json_object", "text_field"]

MAX_JSON_BYTES = 256 * 1024
MAX_TEXT_CHARS = 4000


def parse_json_object(raw: Union[str, bytes], shape: str, *, max_bytes: int = MAX_JSON_BYTES,
                      allow_empty: bool = False) -> Dict[str, Any]:
    """A JSON object from a body or a websocket frame.

    Args:
        raw: The body or frame.
        shape: What the object holds, for the error message (e.g. ``{"sender", "message"}``).
        max_bytes: The largest body accepted.
        allow_empty: An empty body is ``{}`` rather than an error.

    Raises:
        TooLarge: Over ``max_bytes``.
        InvalidInput: Not JSON (or nested too deep to read), or not an object.
    """
    size = len(raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw)
    if size > max_bytes:
        raise TooLarge(f"the body may have at most {max_bytes} bytes")
    if allow_empty and not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        raise InvalidInput(f"the body must be JSON: {shape}") from exc
    if not isinstance(data, dict):
        raise InvalidInput(f"the body must be a JSON object: {shape}")
    return data


def json_object(request: Request, shape: str, *, max_bytes: int = MAX_JSON_BYTES,
                allow_empty: bool = False) -> Dict[str, Any]:
    """The request's body as a JSON object (see :func:`parse_json_object`)."""
    return parse_json_object(request.body or b"", shape, max_bytes=max_bytes, allow_empty=allow_empty)


def text_field(
    body: Mapping[str, Any], name: str, *, required: bool = True, limit: int = MAX_TEXT_CHARS,
    default: Optional[str] = "",
) -> str:
    """A string field of a JSON body, stripped and checked.

    Args:
        body: The parsed body.
        name: The field.
        required: Whether a missing or blank value is an error.
        limit: Most characters allowed.
        default: Value when missing and not required.

    Raises:
        InvalidInput: Missing (when required) or not a string.
        TooLarge: Longer than ``limit``.
    """
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise InvalidInput(f"'{name}' is required")
        return default or ""
    if not isinstance(value, str):
        raise InvalidInput(f"'{name}' must be a string")
    value = value.strip()
    if len(value) > limit:
        raise TooLarge(f"'{name}' may have at most {limit} characters")
    return value
