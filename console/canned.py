"""Canned replies of the agent console: the text catalog's ``canned_<shortcut>`` entries.

An agent types ``/`` and the shortcut in the composer; the reply is inserted
in the conversation's language. ``{agent}`` and ``{reference}`` are filled in
by the console's script.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Dict, List

from core.texts import TextCatalog, TextError

__all__ = ["PREFIX", "CannedReply", "canned_replies"]

PREFIX = "canned_"
_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class CannedReply:
    """One canned reply.

    Attributes:
        shortcut: Typed after ``/`` in the composer.
        title: Shown in the suggestion list.
        he: The Hebrew text.
        en: The English text.
    """

    shortcut: str
    title: str
    he: str
    en: str

    def to_json(self) -> Dict[str, Any]:
        """The reply as the console's JSON."""
        return asdict(self)


def canned_replies(texts: TextCatalog) -> List[CannedReply]:
    """The canned replies, in the catalog's key order.

    Raises:
        TextError: A shortcut is malformed or a language is missing.
    """
    replies: List[CannedReply] = []
    for key in texts.keys(PREFIX):
        shortcut = key[len(PREFIX):]
        if not _SHORTCUT.match(shortcut):
            raise TextError(f"{key!r}: a shortcut is lower-case letters, digits, - or _ (at most 32)")
        entry = texts.entry(key)
        he, en = (entry.variations.get(lang, ())[:1] for lang in ("he", "en"))
        if not he or not en:
            raise TextError(f"{key!r} needs a Hebrew and an English reply")
        replies.append(CannedReply(shortcut, en[0].title or shortcut, he[0].text, en[0].text))
    return replies
