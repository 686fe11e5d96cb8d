"""Rendering and response helpers shared by the console's pages.

Templates live in ``handoff/templates`` and static files in ``handoff/static``;
Jinja2 escapes everything it prints (autoescape is on for every template).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from enum import Enum
from pathlib import Path
from typing import Any, Dict, Mapping, Optional

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sanic import Request, Sanic
from sanic.response import HTTPResponse, html

from handoff.errors import BadRequest, PayloadTooLarge

__all__ = [
    "MAX_JSON_BYTES",
    "MAX_TEXT_CHARS",
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "attach_jinja",
    "build_jinja",
    "content_security_policy",
    "json_body",
    "jsonable",
    "render",
    "text_field",
]

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
MAX_TEXT_CHARS = 4000
MAX_JSON_BYTES = 64 * 1024


def _asset_version() -> str:
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.glob("*")):
        if path.is_file():
            digest.update(path.name.encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def build_jinja() -> Environment:
    """The console's Jinja2 environment (autoescape on for every template)."""
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES_DIR)),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.globals["asset_version"] = _asset_version()
    return env


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTTPResponse:
    """Renders a template with the session's agent and CSRF token in scope.

    Args:
        request: The request (its ``ctx`` may hold ``session`` and ``agent``).
        template: Template path under ``handoff/templates``.
        status: HTTP status.
        values: Template variables.

    Returns:
        The HTML response.
    """
    session = getattr(request.ctx, "session", None)
    values.setdefault("agent", getattr(request.ctx, "agent", None))
    values.setdefault("csrf_token", session.csrf if session else "")
    env: Environment = request.app.ctx.jinja
    return html(env.get_template(template).render(**values), status=status)


def content_security_policy(request: Request, *, frame: bool = False) -> str:
    """The console's CSP: only its own scripts, styles and websocket; no inline script.

    Args:
        request: For the host the websocket connects to.
        frame: The response is the sandboxed body of an e-mail, shown in a frame.
    """
    if frame:
        return ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; font-src data:; "
                "frame-ancestors 'self'; sandbox")
    host = request.host
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' ws://{host} wss://{host}; frame-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def jsonable(value: Any) -> Any:
    """Turns dataclasses, enums, tuples and sets into plain JSON values."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def json_body(request: Request) -> Dict[str, Any]:
    """The request's JSON object body ({} when empty).

    Raises:
        PayloadTooLarge: The body is over 64 KiB.
        BadRequest: The body is not a JSON object.
    """
    raw = request.body or b""
    if len(raw) > MAX_JSON_BYTES:
        raise PayloadTooLarge(f"the request body may have at most {MAX_JSON_BYTES} bytes")
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("the body must be JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("the body must be a JSON object")
    return data


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
        BadRequest: Missing (when required) or not a string.
        PayloadTooLarge: Longer than ``limit``.
    """
    value = body.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise BadRequest(f"'{name}' is required")
        return default or ""
    if not isinstance(value, str):
        raise BadRequest(f"'{name}' must be a string")
    value = value.strip()
    if len(value) > limit:
        raise PayloadTooLarge(f"'{name}' may have at most {limit} characters")
    return value


def attach_jinja(app: Sanic) -> Environment:
    """Puts the Jinja2 environment on ``app.ctx.jinja`` (once) and returns it."""
    env: Optional[Environment] = getattr(app.ctx, "jinja", None)
    if env is None:
        env = build_jinja()
        app.ctx.jinja = env
    return env
