"""The words custom actions say, in Hebrew and English, from ``data/messages/*.yml``.

Responses the dialogue says by itself (greetings, FAQ answers) are domain
responses with conditional variations on the ``language`` slot. What a custom
action says depends on what it found (an order's status, an article), so those
texts live here instead: ``rasa data validate`` counts a domain response that
no story or rule names as unused, and the action server chooses the language
from the same ``language`` slot.

A message is, per language, a text, a list of texts (one is picked at random)
or a mapping with ``text`` and ``buttons``::

    messages:
      order_cancelled:
        en: "Order #{order_id} is cancelled."
        he: "הזמנה {order_id} בוטלה."
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional

import yaml

__all__ = ["MESSAGES_DIR", "Message", "MessageCatalog", "MessageError"]

MESSAGES_DIR = Path(__file__).resolve().parent.parent / "data" / "messages"
LANGUAGES = ("en", "he")


class MessageError(ValueError):
    """A message that is missing, incomplete, or asks for a value not given."""


@dataclass(frozen=True)
class Message:
    """A rendered message, ready for ``dispatcher.utter_message(**message.kwargs())``."""

    text: str
    buttons: List[Dict[str, str]] = field(default_factory=list)

    def kwargs(self) -> Dict[str, Any]:
        """Keyword arguments for ``CollectingDispatcher.utter_message``."""
        return {"text": self.text, "buttons": self.buttons} if self.buttons else {"text": self.text}


def _placeholders(template: str) -> List[str]:
    return [name for _, name, _, _ in string.Formatter().parse(template) if name]


class MessageCatalog:
    """All action messages, checked when loaded."""

    def __init__(self, messages: Mapping[str, Mapping[str, Any]], rng: Optional[random.Random] = None) -> None:
        """Builds a catalogue and checks every message has both languages.

        Args:
            messages: ``{name: {"en": ..., "he": ...}}``.
            rng: Random source for picking among variations (tests fix it).

        Raises:
            MessageError: A message lacks a language or has an empty text.
        """
        self._messages: Dict[str, Dict[str, List[Dict[str, Any]]]] = {}
        self._rng = rng or random.Random()
        for name, by_language in messages.items():
            entry: Dict[str, List[Dict[str, Any]]] = {}
            for language in LANGUAGES:
                if language not in by_language:
                    raise MessageError(f"message {name!r} has no {language!r} text")
                raw = by_language[language]
                variations = raw if isinstance(raw, list) else [raw]
                entry[language] = [
                    {"text": v} if isinstance(v, str) else dict(v) for v in variations
                ]
                if not all(str(v.get("text", "")).strip() for v in entry[language]):
                    raise MessageError(f"message {name!r} has an empty {language!r} text")
            self._messages[name] = entry

    @classmethod
    def from_dir(cls, directory: Path = MESSAGES_DIR) -> MessageCatalog:
        """Loads every ``*.yml`` file in a folder (blocking; done once per process)."""
        merged: Dict[str, Any] = {}
        for path in sorted(directory.glob("*.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            for name, value in (data.get("messages") or {}).items():
                if name in merged:
                    raise MessageError(f"{path}: message {name!r} is defined twice")
                merged[name] = value
        return cls(merged)

    def names(self) -> List[str]:
        """Names of all messages."""
        return sorted(self._messages)

    def placeholders(self, name: str) -> Dict[str, List[str]]:
        """The ``{values}`` each language's texts use (for checks and tests)."""
        return {
            language: sorted({p for v in variations for p in _placeholders(v["text"])})
            for language, variations in self._messages[name].items()
        }

    def render(self, name: str, language: Optional[str], /, **values: Any) -> Message:
        """Fills one message in the customer's language.

        Args:
            name: Message name (positional, so ``{name}`` can be a placeholder).
            language: ``"he"`` or ``"en"``; anything else means English.
            **values: Values for the ``{placeholders}``.

        Raises:
            MessageError: Unknown message, or a placeholder without a value.
        """
        entry = self._messages.get(name)
        if entry is None:
            raise MessageError(f"unknown message {name!r}")
        variation = self._rng.choice(entry["he" if language == "he" else "en"])
        try:
            text = variation["text"].format(**values)
            buttons = [
                {"title": b["title"].format(**values), "payload": b["payload"]}
                for b in variation.get("buttons", [])
            ]
        except KeyError as exc:
            raise MessageError(f"message {name!r} needs a value for {exc}") from exc
        return Message(text=text, buttons=buttons)
