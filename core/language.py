"""The two languages Kesher speaks, and which one a customer is writing in.

Hebrew script is decisive: a customer who types Hebrew letters is answered in
Hebrew, even if the message also holds an e-mail address or a product name in
Latin letters. Latin letters switch the conversation to English only when they
form real words; an order number, an e-mail, a phone, an emoji or a lone "ok"
from someone who has been writing Hebrew keeps the language they had.
"""

from __future__ import annotations

import re
from typing import Literal, Optional, Tuple

__all__ = ["LANGUAGES", "LOCALES", "Language", "as_language", "detect_language", "is_hebrew", "is_language"]

Language = Literal["he", "en"]
LANGUAGES: Tuple[Language, ...] = ("he", "en")
# Babel locales: how dates, money and plurals are written in each language.
LOCALES = {"he": "he_IL", "en": "en_GB"}

_HEBREW_LETTER = re.compile(r"[\u05d0-\u05ea]")
# Things that carry Latin letters without saying anything about the language.
_NEUTRAL = re.compile(
    r"""
    [\w.+-]+@[\w-]+(?:\.[\w-]+)+      # e-mail
    | https?://\S+ | www\.\S+          # links
    | \b[A-Za-z]{0,3}[-#]?\d[\w-]*\b   # order numbers, codes like KS-104233
    """,
    re.VERBOSE,
)
_LATIN_WORD = re.compile(r"[A-Za-z]{2,}")


def is_language(value: object) -> bool:
    """Whether ``value`` is one of :data:`LANGUAGES`."""
    return value in LANGUAGES


def as_language(value: object, default: Language = "en") -> Language:
    """``value`` if it is a language Kesher speaks, else ``default``."""
    if value == "he":
        return "he"
    if value == "en":
        return "en"
    return default


def is_hebrew(text: str) -> bool:
    """Tells whether a text contains Hebrew letters (the decisive signal)."""
    return bool(_HEBREW_LETTER.search(text))


def detect_language(text: str, previous: Optional[str] = None) -> Optional[Language]:
    """Detects the language of one customer message.

    Args:
        text: The message as the customer wrote it.
        previous: The conversation's language so far, if known.

    Returns:
        ``"he"`` or ``"en"``; the previous language (or ``None`` when there was
        none) when the message has no letters that tell.
    """
    prev: Optional[Language] = as_language(previous) if is_language(previous) else None
    if len(_HEBREW_LETTER.findall(text)) >= 2:
        return "he"
    words = [w.lower() for w in _LATIN_WORD.findall(_NEUTRAL.sub(" ", text))]
    if not words:
        return prev
    if prev == "he" and len(words) == 1:
        # "ok", "thx", "iPhone": a Hebrew writer's shorthand, not a switch.
        return prev
    return "en"
