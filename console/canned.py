"""Canned replies of the agent console: the text catalog's ``canned_<shortcut>`` entries.

An agent types ``/`` and the shortcut in the composer; the reply is inserted
in the conversation's language. ``{agent}`` and ``{reference}`` are filled in
by the console's script.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, List, Mapping

from core.language import LANGUAGES, as_language
from core.texts import TextCatalog, TextError

__all__ = ["PREFIX", "CannedReply", "canned_replies"]

PREFIX = "canned_"
_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass(frozen=True)
class CannedReply:
    """One canned reply.

    Attributes:
        shortcut: Typed after ``/`` in the composer.
        titles: Shown in the suggestion list, by the console's language.
        he: The Hebrew text.
        en: The English text.
    """

    shortcut: str
    titles: Mapping[str, str]
    he: str
    en: str

    def title(self, language: str) -> str:
        """The reply's name in the console's language (the shortcut when it has none)."""
        return self.titles.get(as_language(language)) or self.shortcut

    def to_json(self, language: str) -> Dict[str, Any]:
        """The reply as the console's JSON, titled in the console's language."""
        return {"shortcut": self.shortcut, "title": self.title(language), "he": self.he, "en": self.en}


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
        he, en = (entry.variations.get(lang, ())[:1] for lang in LANGUAGES)
        if not he or not en:
            raise TextError(f"{key!r} needs a Hebrew and an English reply")
        titles = {"he": he[0].title, "en": en[0].title}
        replies.append(CannedReply(shortcut, {k: v for k, v in titles.items() if v},
                                   texts.prefill(he[0].text, "he"), texts.prefill(en[0].text, "en")))
    return replies
