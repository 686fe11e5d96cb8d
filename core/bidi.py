"""Right to left that survives names and codes: Unicode isolates and marks.

A Hebrew line that holds a Latin name, a reference (K-D901A7), an e-mail
address or a phone number is laid out by the Unicode bidirectional algorithm,
which lets those values pull their neighbours' punctuation and numbers to the
wrong side, and a line that *starts* with one is read left to right by
anything that guesses the direction from the first letter. So every value the
text catalog puts into a Hebrew text is wrapped in a first-strong isolate
(FSI … PDI, :func:`isolate`): browsers, e-mail clients and the phone apps lay
it out as one unit that does not disturb the sentence around it.

Channels without markup whose apps may not honour isolates (WhatsApp,
Telegram) get marks instead (:func:`with_marks`): a right-to-left mark opens
the message and stands on each side of every value, so the line keeps its
direction whatever the value holds. :func:`direction` says which way a message
runs, from its language (Hebrew letters decide, as in ``core/language.py``),
never from its first letter.
"""

from __future__ import annotations

import re
from typing import Literal, Optional

from core.language import is_hebrew

__all__ = ["FSI", "LRM", "PDI", "RLM", "Direction", "direction", "isolate", "needs_isolation", "rtl_lines",
           "strip_controls",
           "with_marks"]

FSI = "\u2068"  # first strong isolate: the value's own first letter sets its direction
PDI = "\u2069"  # pop directional isolate
RLM = "\u200f"  # right-to-left mark
LRM = "\u200e"  # left-to-right mark
_CONTROLS = {ord(c): None for c in (FSI, PDI, RLM, LRM, "\u2066", "\u2067", "\u202a", "\u202b", "\u202c",
                                     "\u202d", "\u202e")}

Direction = Literal["rtl", "ltr"]
# A letter or digit outside Hebrew (Latin, digits, other scripts).
_NOT_HEBREW = re.compile(r"[^\W\u0590-\u05ff_]")


def needs_isolation(value: str) -> bool:
    """Whether a value put into a Hebrew text can disturb its direction: it holds a letter or digit that is not Hebrew.

    A Hebrew word cannot; a Latin name, a reference, an e-mail address, a phone
    number or any number can.
    """
    return bool(_NOT_HEBREW.search(value))


def isolate(value: str) -> str:
    """``value`` wrapped in FSI … PDI when it needs it (:func:`needs_isolation`).

    Empty, Hebrew-only, multi-line (a block, not a word in a sentence: a line
    break ends an isolate anyway) and already isolated values are left as they are.
    """
    if "\n" in value or not needs_isolation(value) or (value.startswith(FSI) and value.endswith(PDI)):
        return value
    return f"{FSI}{value}{PDI}"


def direction(text: str, language: Optional[str] = None) -> Direction:
    """Which way a message runs: its language's, else Hebrew letters anywhere in it make it right to left."""
    if language == "he":
        return "rtl"
    if language == "en":
        return "ltr"
    return "rtl" if is_hebrew(text) else "ltr"


def with_marks(text: str, language: Optional[str] = None) -> str:
    """A message for a channel without markup: isolates become right-to-left marks in a Hebrew text.

    The text starts with RLM, and an RLM stands on each side of every value the
    catalog isolated, so punctuation and numbers beside a Latin value stay on
    the Hebrew side. An English text only loses its isolates (it has none from
    the catalog).
    """
    if direction(text, language) == "ltr":
        return strip_controls(text)
    return rtl_lines(text.replace(FSI, RLM).replace(PDI, RLM))


def rtl_lines(text: str) -> str:
    """Every non-empty line of a right-to-left text starts with a right-to-left mark (a plain-text e-mail part)."""
    return "\n".join(line if not line.strip() or line.startswith(RLM) else RLM + line for line in text.split("\n"))


def strip_controls(text: str) -> str:
    """``text`` without bidirectional controls (for matching, logs and tests)."""
    return text.translate(_CONTROLS)
