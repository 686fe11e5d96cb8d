"""Canned replies of the agent console, from ``handoff/canned.yml``."""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Dict, List

import yaml

__all__ = ["CANNED_PATH", "CannedReply", "load_canned"]

CANNED_PATH = Path(__file__).resolve().parent.parent / "canned.yml"
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


def load_canned(path: Path = CANNED_PATH) -> List[CannedReply]:
    """Reads and checks the canned replies.

    Args:
        path: The YAML file (a ``replies`` list of shortcut/title/he/en entries).

    Returns:
        The replies in file order.

    Raises:
        ValueError: An entry is incomplete, a shortcut is malformed or repeated.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    replies: List[CannedReply] = []
    seen: set[str] = set()
    for index, raw in enumerate(data.get("replies") or [], start=1):
        if not isinstance(raw, dict):
            raise ValueError(f"{path}: reply {index} is not a mapping")
        missing = [k for k in ("shortcut", "title", "he", "en") if not str(raw.get(k) or "").strip()]
        if missing:
            raise ValueError(f"{path}: reply {index} lacks {', '.join(missing)}")
        shortcut = str(raw["shortcut"]).strip()
        if not _SHORTCUT.match(shortcut):
            raise ValueError(f"{path}: reply {index}: shortcut {shortcut!r} must be lower-case letters, digits, - or _")
        if shortcut in seen:
            raise ValueError(f"{path}: shortcut {shortcut!r} is used twice")
        seen.add(shortcut)
        replies.append(CannedReply(shortcut, str(raw["title"]).strip(), str(raw["he"]).strip(),
                                   str(raw["en"]).strip()))
    return replies
