"""Kesher's one small markup, and one renderer for each place a message is shown.

The catalog, the domain's responses and agents' messages may write:

- ``**bold**`` (no space just inside the stars),
- ``[text](https://...)``, a link with its own words,
- a bare ``https://...`` (or ``http://``) address, which is a link to itself.

Nothing else is markup: a single ``*`` (``*5550``), ``<b>`` or ``<script>`` is
text, and a ``[text](...)`` whose address is not http(s) (``javascript:``) is
shown as it was written and never becomes a link. Each target gets the same
meaning in its own form:

============  =====================================================================
widget,       the browser does it: ``edge/static/message-format.js``'s ``kesherMarkup``
console       builds text nodes, ``<strong>`` and ``<a rel="noopener" target="_blank">``
Telegram      :func:`to_telegram_html` (parse mode ``HTML``: ``<b>``, ``<a href>``, ``<>&`` escaped)
WhatsApp      :func:`to_whatsapp` (``*bold*``; a link as its words and the address)
e-mail text   :func:`to_plain` (no stars; a link as its words and the address)
e-mail HTML   :func:`to_html` (escaped, ``<strong>``, ``<a href rel="noopener" target="_blank">``)
============  =====================================================================

The grammar is the same regular expression here and in the browser.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import List, Optional

__all__ = ["Segment", "parse", "to_html", "to_plain", "to_telegram_html", "to_whatsapp"]

_URL = r"https?://[^\s<>\"')\]]+[^\s<>\"')\].,;:!?]"
# One token: **bold**, [words](address), or a bare http(s) address. Keep in step with message-format.js.
_TOKEN = re.compile(
    r"\*\*(?P<bold>[^\s*](?:[^*\n]*?[^\s*])?)\*\*"
    r"|\[(?P<label>[^\[\]\n]+)\]\((?P<href>[^()\s]+)\)"
    rf"|(?P<url>{_URL})"
)
_SAFE_URL = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)


@dataclass(frozen=True)
class Segment:
    """A run of text with one look.

    Attributes:
        text: The words shown.
        bold: Shown in bold.
        url: The http(s) address it links to, or None.
    """

    text: str
    bold: bool = False
    url: Optional[str] = None


def _inline(text: str, bold: bool) -> List[Segment]:
    out: List[Segment] = []
    last = 0
    for match in _TOKEN.finditer(text):
        if match.start() > last:
            out.append(Segment(text[last:match.start()], bold))
        if match.group("bold") is not None and not bold:
            out += _inline(match.group("bold"), True)
        elif match.group("bold") is not None:
            out.append(Segment(match.group(0), bold))
        elif match.group("label") is not None:
            href = match.group("href")
            if _SAFE_URL.match(href):
                out.append(Segment(match.group("label"), bold, href))
            else:
                out.append(Segment(match.group(0), bold))
        else:
            out.append(Segment(match.group("url"), bold, match.group("url")))
        last = match.end()
    if last < len(text):
        out.append(Segment(text[last:], bold))
    return out


def parse(text: str) -> List[Segment]:
    """A message's segments, in order; their texts joined give the message without the markup."""
    return [s for s in _inline(text, False) if s.text]


def _link_words(segment: Segment) -> str:
    """A link as plain text: its address, or its words and then the address."""
    if segment.url is None or segment.text == segment.url:
        return segment.text
    return f"{segment.text} ({segment.url})"


def to_plain(text: str) -> str:
    """Plain text (an e-mail's text part): the stars dropped, each link as its words and its address."""
    return "".join(_link_words(s) for s in parse(text))


def to_whatsapp(text: str) -> str:
    """WhatsApp's own formatting: ``*bold*``; a link as its words and its address (WhatsApp links addresses)."""
    out: List[str] = []
    for segment in parse(text):
        words = _link_words(segment)
        if segment.bold and words.strip():
            lead, core, trail = _split_space(words)
            out.append(f"{lead}*{core}*{trail}")
        else:
            out.append(words)
    return "".join(out)


def _split_space(text: str) -> tuple[str, str, str]:
    core = text.strip()
    start = text.index(core)
    return text[:start], core, text[start + len(core):]


def to_telegram_html(text: str) -> str:
    """Telegram's ``HTML`` parse mode: ``<``, ``>`` and ``&`` escaped, ``<b>`` and ``<a href>``."""
    out: List[str] = []
    for segment in parse(text):
        piece = html.escape(segment.text, quote=False)
        if segment.url is not None:
            piece = f'<a href="{html.escape(segment.url, quote=True)}">{piece}</a>'
        if segment.bold:
            piece = f"<b>{piece}</b>"
        out.append(piece)
    return "".join(out)


def to_html(text: str) -> str:
    """HTML (an e-mail's HTML part): everything escaped, then ``<strong>`` and ``<a>`` to new tabs."""
    out: List[str] = []
    for segment in parse(text):
        piece = html.escape(segment.text, quote=False)
        if segment.url is not None:
            piece = (f'<a href="{html.escape(segment.url, quote=True)}" rel="noopener noreferrer" '
                     f'target="_blank">{piece}</a>')
        if segment.bold:
            piece = f"<strong>{piece}</strong>"
        out.append(piece)
    return "".join(out)
