"""Rendering helpers shared by the console's pages: templates, texts, the CSP, JSON values.

Templates live in ``console/templates`` and static files in ``console/static``;
Jinja2 escapes everything it prints (autoescape is on for every template).
Every word a page, its script or an API refusal shows comes from the text
catalog (``data/texts/console.yml``) in the UI language of the request: the
agent's ``ui_language``, else the ``console_language`` setting. Templates call
``t("console_<key>", **values)``.
"""

from __future__ import annotations

import dataclasses
import hashlib
from enum import Enum
from pathlib import Path
from typing import Any, Callable, Dict, Mapping, Optional

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import Markup, escape
from sanic import Request
from sanic.response import HTTPResponse, html

from console.context import state
from core.errors import KesherError
from core.language import LANGUAGES, Language
from core.texts import TextCatalog
from edge.browser import MESSAGE_FORMAT_JS

__all__ = [
    "MAX_JSON_BYTES",
    "STATIC_DIR",
    "TEMPLATES_DIR",
    "build_jinja",
    "content_security_policy",
    "html_text",
    "jsonable",
    "localized_error",
    "render",
    "say",
    "text_direction",
    "ui_language",
    "with_names",
]

PACKAGE_DIR = Path(__file__).resolve().parent
TEMPLATES_DIR = PACKAGE_DIR / "templates"
STATIC_DIR = PACKAGE_DIR / "static"
MAX_JSON_BYTES = 64 * 1024
# Stands for a value while a text is escaped, so the value is escaped once, on its own.
_SLOT = "\ue000{}\ue001"


def _asset_version() -> str:
    digest = hashlib.sha256()
    for path in [*sorted(STATIC_DIR.glob("*")), MESSAGE_FORMAT_JS]:
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
    env.globals["code"] = lambda value: Markup("<code>{}</code>").format(value)
    return env


def ui_language(request: Request) -> Language:
    """The console's language for this request: the agent's choice, their ``ui_language``, else the setting.

    The choice is the one the agent made with the language switch (kept per agent in Redis and
    loaded with the session by the middleware, ``request.ctx.ui_choice``).

    The agent is the one a handler's guard found, or the one of the session cookie
    (middleware and refusals run before the guard).
    """
    service = state(request)
    chosen = getattr(request.ctx, "ui_choice", None)
    if chosen in LANGUAGES:
        choice: Language = chosen
        return choice
    agent = getattr(request.ctx, "agent", None)
    if agent is None:
        session = getattr(request.ctx, "session", None)
        agent = service.agents.get(session.agent_id) if session is not None else None
    if agent is not None and agent.ui_language:
        language: Language = agent.ui_language
        return language
    return service.settings.console_language


def text_direction(language: str) -> str:
    """``rtl`` for Hebrew, ``ltr`` for English."""
    return "rtl" if language == "he" else "ltr"


def say(request: Request, key: str, /, **values: Any) -> str:
    """A text of the catalog in the request's UI language (for refusals and errors built in Python).

    Raises:
        core.texts.TextError: Unknown key or a missing value.
    """
    return state(request).texts.text(key, ui_language(request), **values)


def named(request: Request, prefix: str, code: str) -> str:
    """A code's name in the UI language (``console_dash_channel_`` + ``web`` → "Web chat"); else the code, spaced."""
    key = f"{prefix}{code}"
    return say(request, key) if key in state(request).texts else code.replace("_", " ")


def with_names(request: Request, values: Mapping[str, Any]) -> Dict[str, Any]:
    """A text's values with the codes the catalog names spelt out in the request's UI language.

    An order's ``status`` ("returned") becomes the catalog's ``status_<code>`` ("הוחזרה"), so a Hebrew
    refusal never shows the English code; a value the catalog has no name for stays as it is.
    """
    texts, language = state(request).texts, ui_language(request)
    named = dict(values)
    status = named.get("status")
    if isinstance(status, str) and f"status_{status}" in texts:
        named["status"] = texts.text(f"status_{status}", language)
    return named


def localized_error(request: Request, exc: KesherError) -> Optional[str]:
    """An error the domain raised, in the agent's language, when it names its catalog text (else None)."""
    if exc.text and exc.text in state(request).texts:
        return say(request, exc.text, **with_names(request, exc.values))
    return None


def html_text(texts: TextCatalog, key: str, language: str, /, **values: Any) -> Markup:
    """A catalog text for a page: escaped, with :class:`Markup` values (a ``<code>`` element) kept as they are.

    Numbers go in as numbers (plural forms need them); every other value is escaped once.

    Raises:
        core.texts.TextError: Unknown key or a missing value.
    """
    slots: Dict[str, Markup] = {}
    filled: Dict[str, Any] = {}
    for name, value in values.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            filled[name] = value
        else:
            slot = _SLOT.format(len(slots))
            slots[slot] = escape(value)
            filled[name] = slot
    out = escape(texts.text(key, language, **filled))
    for slot, value in slots.items():
        out = Markup(str(out).replace(slot, str(value)))
    return out


def _page_texts(texts: TextCatalog, language: str) -> Dict[str, Callable[..., Markup]]:
    def t(key: str, /, **values: Any) -> Markup:
        return html_text(texts, key, language, **values)

    def label(prefix: str, code: str) -> Markup:
        """The catalog's name of a code (``prefix + code``), or the code with spaces if it has none."""
        if f"{prefix}{code}" in texts:
            return t(f"{prefix}{code}")
        return escape(code.replace("_", " "))

    return {"t": t, "label": label}


def render(request: Request, template: str, status: int = 200, **values: Any) -> HTTPResponse:
    """Renders a template with the session's agent, CSRF token and texts in scope.

    Templates get ``t(key, **values)`` (a text of the catalog in the UI language),
    ``label(prefix, code)`` (a code's name, e.g. a resolution code), ``ui_lang`` and ``ui_dir``.

    Args:
        request: The request (its ``ctx`` may hold ``session`` and ``agent``).
        template: Template path under ``console/templates``.
        status: HTTP status.
        values: Template variables.

    Returns:
        The HTML response.
    """
    service = state(request)
    session = getattr(request.ctx, "session", None)
    language = ui_language(request)
    values.setdefault("agent", getattr(request.ctx, "agent", None))
    values.setdefault("csrf_token", session.csrf if session else "")
    values.setdefault("ui_lang", language)
    values.setdefault("ui_dir", text_direction(language))
    other = "en" if language == "he" else "he"
    values.setdefault("other_lang", other)
    values.setdefault("other_dir", text_direction(other))
    values.setdefault("other_lang_name", service.texts.text("console_language_self", other))
    values.setdefault("request_path", request.path + (f"?{request.query_string}" if request.query_string else ""))
    values.update(_page_texts(service.texts, language))
    return html(service.jinja.get_template(template).render(**values), status=status)


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
