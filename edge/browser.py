"""Browser code the Sanic apps share: the text catalog's message format, for the widget and the console.

``static/message-format.js`` fills a catalog text's ``{arguments}`` and plural
forms the way ``core.texts`` does; the web channel puts it into ``widget.js``
and the console serves it before its own script, so there is one copy.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

__all__ = ["MESSAGE_FORMAT_JS", "message_format_js"]

MESSAGE_FORMAT_JS = Path(__file__).resolve().parent / "static" / "message-format.js"


@lru_cache(maxsize=1)
def message_format_js() -> str:
    """The message format's source (read once per process)."""
    return MESSAGE_FORMAT_JS.read_text(encoding="utf-8")
