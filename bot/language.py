"""Which language a customer is writing in: Hebrew or English.

Hebrew script is decisive: a customer who types Hebrew letters is answered in
Hebrew, even if the message also holds an e-mail address or a product name in
Latin letters. Latin letters switch the conversation to English only when they
form real words; an order number, an e-mail, a phone, an emoji or a lone "ok"
from someone who has been writing Hebrew keeps the language they had.
"""

from __future__ import annotations

import re
from typing import Literal, Optional

__all__ = ["Language", "detect_language", "is_hebrew"]

Language = Literal["he", "en"]

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
    prev: Optional[Language] = previous if previous in ("he", "en") else None  # type: ignore[assignment]
    if len(_HEBREW_LETTER.findall(text)) >= 2:
        return "he"
    words = [w.lower() for w in _LATIN_WORD.findall(_NEUTRAL.sub(" ", text))]
    if not words:
        return prev
    if prev == "he" and len(words) == 1:
        # "ok", "thx", "iPhone": a Hebrew writer's shorthand, not a switch.
        return prev
    return "en"
