"""Rendering helpers shared by the console's pages: templates, the CSP, JSON values.

Templates live in ``console/templates`` and static files in ``console/static``;
Jinja2 escapes everything it prints (autoescape is on for every template).
"""

from __future__ import annotations

import dataclasses
import hashlib
from enum import Enum
from pathlib import Path
from typing import Any, Mapping

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from sanic import Request
from sanic.response import HTTPResponse, html

from console.context import state

__all__ = [
    "MAX_JSON_BYTES",
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "build_jinja",
    "content_security_policy",
    "jsonable",
    "render",
]

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
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
    env = state(request).jinja
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
