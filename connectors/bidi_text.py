"""Right to left on channels without markup (WhatsApp, Telegram): marks instead of isolates, and the agent's name.

The text catalog isolates every value it puts into a Hebrew text (``core/bidi.py``).
The phone apps are given right-to-left marks instead, which every one of them
honours: a Hebrew message starts with one and has one on each side of every
value. An agent's message names the agent; in Hebrew a Latin name never opens
the message (it would make some apps lay the whole line out left to right):
a Hebrew display name goes first, a Latin one after the text.
"""

from __future__ import annotations

from typing import Callable, Optional

from core.bidi import direction, with_marks
from core.language import is_hebrew

__all__ = ["for_phone"]


def for_phone(text: str, *, author_name: str = "", language: Optional[str] = None,
              bold: Callable[[str], str] = lambda name: name) -> str:
    """A message for WhatsApp or Telegram: the agent's name put in, then marks for a Hebrew text.

    Args:
        text: The message as the catalog or the agent wrote it.
        author_name: The agent's name for this customer ("" for the bot).
        language: The message's language, if known; else Hebrew letters decide.
        bold: How the channel emphasises the name (WhatsApp: ``*name*``).

    Returns:
        The text to send.
    """
    rtl = direction(text, language) == "rtl"
    if author_name:
        if not rtl or is_hebrew(author_name):
            text = f"{bold(author_name)}: {text}"
        else:
            text = f"{text}\n— {bold(author_name)}"
    return with_marks(text, "he" if rtl else "en")
