"""Slots Rasa fills after every customer message: language and open offers.

Rasa runs ``action_validate_slot_mappings`` after each message, before the
next action is predicted, so the ``language`` slot is always current when a
response is chosen, and an offer of a human ("would you like me to connect
you?") only counts for the customer's very next answer.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Tracker
from rasa_sdk.events import EventType
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import ValidationAction
from rasa_sdk.types import DomainDict

from core.language import detect_language

__all__ = ["ValidatePredefinedSlots"]

ANSWERS_TO_OFFER = frozenset({"affirm", "deny", "human_handoff"})


class ValidatePredefinedSlots(ValidationAction):
    """Detects the message's language and expires unanswered offers."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        """Sets our two slots; slots Rasa extracted itself are left as they are."""
        return await self.get_extraction_events(dispatcher, tracker, domain)

    async def required_slots(
        self,
        domain_slots: List[str],
        dispatcher: CollectingDispatcher,
        tracker: Tracker,
        domain: DomainDict,
    ) -> List[str]:
        """Only these slots are ours; others keep the values Rasa extracted."""
        return ["language", "human_offered"]

    def extract_language(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Sets ``language`` from the latest message when it tells."""
        previous: Optional[str] = tracker.get_slot("language")
        text = (tracker.latest_message or {}).get("text") or ""
        detected = detect_language(text, previous)
        return {"language": detected} if detected and detected != previous else {}

    def extract_human_offered(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Withdraws an offer of a human if the customer moved on to something else."""
        if not tracker.get_slot("human_offered"):
            return {}
        intent = ((tracker.latest_message or {}).get("intent") or {}).get("name")
        return {} if intent in ANSWERS_TO_OFFER else {"human_offered": False}
