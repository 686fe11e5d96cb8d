"""Text helpers the channels share."""

from __future__ import annotations

from typing import List

__all__ = ["split_text"]


def split_text(text: str, limit: int) -> List[str]:
    """Splits ``text`` into parts of at most ``limit`` characters, at a line or word break if possible.

    Args:
        text: The message.
        limit: The channel's longest message.

    Returns:
        The parts in order (none for an empty text).
    """
    parts: List[str] = []
    rest = text.strip()
    while len(rest) > limit:
        cut = rest.rfind("\n", 0, limit + 1)
        if cut < limit // 2:
            cut = rest.rfind(" ", 0, limit + 1)
        if cut < limit // 2:
            cut = limit
        parts.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    if rest:
        parts.append(rest)
    return parts
