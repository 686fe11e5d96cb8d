"""What every Kesher action shares: its backends and a per-turn helper.

An action subclasses :class:`KesherAction` and implements ``perform(turn)``.
The :class:`Turn` knows the customer's language, renders messages in it and
formats dates and money the way that language writes them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Dict, List, Optional, Sequence

from babel.dates import format_date
from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backends import Backends
from core.language import LOCALES, Language, as_language

__all__ = ["FALLBACK_INTENT", "KesherAction", "Turn", "UsesBackends"]

FALLBACK_INTENT = "nlu_fallback"
_DATE_FORMATS = {"he": "EEEE, d 'ב'MMMM", "en": "EEEE, d MMMM"}


class UsesBackends:
    """Gives an action the backends it was built with (``actions.server`` passes the process's)."""

    def __init__(self, backends: Backends) -> None:
        """Keeps the backends.

        Args:
            backends: Orders store, knowledge base, texts, policy, handoff queue and clock.
        """
        self.backends = backends


@dataclass
class Turn:
    """One run of an action: who is talking, in which language, and what to say."""

    dispatcher: CollectingDispatcher
    tracker: Tracker
    backends: Backends

    @property
    def language(self) -> Language:
        """The customer's language (``"he"`` or ``"en"``)."""
        return as_language(self.tracker.get_slot("language"), self.backends.default_language)

    @property
    def text(self) -> str:
        """What the customer just wrote."""
        return (self.tracker.latest_message or {}).get("text") or ""

    @property
    def intent(self) -> Optional[str]:
        """The intent of the customer's latest message."""
        return ((self.tracker.latest_message or {}).get("intent") or {}).get("name")

    def slot(self, name: str) -> Any:
        """A slot's current value."""
        return self.tracker.get_slot(name)

    def now(self) -> datetime:
        """The backends' clock (tests fix it)."""
        return self.backends.clock()

    def today(self) -> date:
        """Today's date by the backends' clock."""
        return self.now().date()

    def say(self, key: str, **values: Any) -> None:
        """Sends a text of the catalog (``data/texts``) in the customer's language."""
        message = self.backends.texts.message(key, self.language, **values)
        self.dispatcher.utter_message(**message.dispatcher_kwargs())

    def offer(self, key: str, options: Sequence[str], **values: Any) -> None:
        """Sends a text of the catalog with one button per option; a tap sends the option's own words.

        Args:
            key: The catalog text.
            options: What each button says and sends (a customer's question, not an ``/intent``).
            **values: The text's arguments.
        """
        message = self.backends.texts.message(key, self.language, **values)
        buttons = [{"title": option, "payload": option} for option in options]
        self.dispatcher.utter_message(text=message.text, buttons=buttons)

    def date(self, value: Optional[date]) -> str:
        """A date as the customer's language writes it, e.g. "Thursday, 26 November"."""
        if value is None:
            return ""
        if isinstance(value, datetime):
            value = value.date()
        return format_date(value, _DATE_FORMATS[self.language], locale=LOCALES[self.language])

    @staticmethod
    def money(amount: Decimal) -> str:
        """An amount in shekels, e.g. ``₪1,290.00``."""
        return f"₪{amount:,.2f}"


class KesherAction(UsesBackends, Action, ABC):
    """Base of the custom actions: builds a :class:`Turn` and calls ``perform``."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[str, Any]]:
        """rasa_sdk's entry point; see :meth:`perform`."""
        turn = Turn(dispatcher, tracker, self.backends)
        return await self.perform(turn)

    @abstractmethod
    def name(self) -> str:
        """The action's name in the domain."""

    @abstractmethod
    async def perform(self, turn: Turn) -> List[EventType]:
        """Does the action's one job.

        Args:
            turn: The conversation, the backends and the customer's language.

        Returns:
            Events for the tracker (slots to set).
        """
