"""The slots every customer message sets, worked out inside ``rasa run``.

After each customer message Rasa runs ``action_extract_slots``. Three of our
slots follow every message: ``language`` (the customer's language, from the
message's letters: :func:`core.language.detect_language`), ``brand`` (the
shop's name in that language, from the text catalog's ``brand`` key, which the
domain's responses say as ``{brand}``), ``human_offered``
(an offer of a person counts only for the customer's very next answer) and
``desk_promise`` (what the bot's responses may promise about a person, by the
business hours and the Israeli calendar of ``handoff/policy.yml``: "available now"
or "back on Sunday at 08:00"). They
were a custom slot mapping served by the action server, which made Rasa call
it twice on every turn (once for the mapping, once more to validate the
extracted slots) with the tracker window in each request: about a third of a
short turn's time. :func:`install` makes Rasa's own slot extraction set them
in the same process, with the same rules, before the next action is
predicted; Rasa's predefined mappings (entities, intents, text) work as
before.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from functools import lru_cache
from typing import TYPE_CHECKING, Any, Callable, Dict, List, Optional

import rasa.core.actions.action as rasa_actions
from rasa.shared.core.events import Event, SlotSet

from core.language import LANGUAGES, as_language, detect_language
from core.settings import Settings
from core.texts import TextCatalog
from handoff.opening import opening_text
from handoff.policy import HandoffPolicy, load_policy

if TYPE_CHECKING:
    from rasa.core.channels.channel import OutputChannel
    from rasa.core.nlg import NaturalLanguageGenerator
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

__all__ = ["ANSWERS_TO_OFFER", "KesherExtractSlots", "conversation_slot_events", "desk_promise", "install"]

# What still answers "would you like me to connect you with a person?".
ANSWERS_TO_OFFER = frozenset({"affirm", "deny", "human_handoff"})
# Epoch seconds now; tests replace it.
clock: Callable[[], float] = time.time


@lru_cache(maxsize=1)
def _desk() -> tuple[HandoffPolicy, TextCatalog]:
    """The business hours and the catalog, read once per ``rasa run`` process."""
    settings = Settings.from_env()
    return load_policy(settings.handoff_policy), TextCatalog.load(settings.texts_dir)


def desk_promise(policy: HandoffPolicy, texts: TextCatalog, language: str, now: datetime) -> str:
    """What the bot may promise about a person now: available, or back on a day (and closed for a holiday)."""
    hours = policy.hours
    if hours.is_open(now):
        return texts.text("desk_promise_open", language)
    local = hours.localize(now)
    opening = opening_text(hours.next_opening(local), local, language, texts)
    holiday = hours.closed_for(local, language)
    if holiday:
        return texts.text("desk_promise_holiday", language, holiday=holiday, opening=opening)
    return texts.text("desk_promise_closed", language, opening=opening)


@lru_cache(maxsize=1)
def _shared_values() -> Dict[str, Dict[str, str]]:
    """The catalog's shared values (the brand) per language, read once per process (blocking, at the first turn)."""
    settings = Settings()
    catalog = TextCatalog.load(settings.texts_dir, default_language=settings.default_language)
    values: Dict[str, Dict[str, str]] = {language: catalog.shared_values(language) for language in LANGUAGES}
    values[""] = values[settings.default_language]  # no language yet: the default one's
    return values


def conversation_slot_events(tracker: DialogueStateTracker, domain: Domain) -> List[Event]:
    """The ``language``, ``brand`` and ``human_offered`` changes the latest customer message makes.

    Args:
        tracker: The conversation, its latest event the customer's message.
        domain: The model's domain; a slot it does not declare is left alone.

    Returns:
        ``SlotSet`` events, only for values that change.
    """
    message: Dict[str, Any] = tracker.latest_message.parse_data if tracker.latest_message else {}
    declared = {slot.name for slot in domain.slots}
    events: List[Event] = []
    if "language" in declared:
        previous: Optional[str] = tracker.get_slot("language")
        detected = detect_language(str(message.get("text") or ""), previous)
        if detected and detected != previous:
            events.append(SlotSet("language", detected))
        if "brand" in declared:
            shared = _shared_values()
            brand = shared.get(detected or previous or "", shared[""]).get("brand")
            if brand and brand != tracker.get_slot("brand"):
                events.append(SlotSet("brand", brand))
    if "human_offered" in declared and tracker.get_slot("human_offered"):
        intent = (message.get("intent") or {}).get("name")
        if intent not in ANSWERS_TO_OFFER:
            events.append(SlotSet("human_offered", False))
    if "desk_promise" in declared:
        language = as_language(next((e.value for e in events if isinstance(e, SlotSet) and e.key == "language"),
                                    tracker.get_slot("language")))
        policy, texts = _desk()
        promise = desk_promise(policy, texts, language, datetime.fromtimestamp(clock(), tz=UTC))
        if promise != tracker.get_slot("desk_promise"):
            events.append(SlotSet("desk_promise", promise))
    return events


class KesherExtractSlots(rasa_actions.ActionExtractSlots):
    """Rasa's ``action_extract_slots`` plus :func:`conversation_slot_events`, with no action-server call."""

    async def run(
        self,
        output_channel: OutputChannel,
        nlg: NaturalLanguageGenerator,
        tracker: DialogueStateTracker,
        domain: Domain,
    ) -> List[Event]:
        """Rasa's extraction, then our own slots (which no Rasa mapping fills)."""
        events = await super().run(output_channel, nlg, tracker, domain)
        return list(events) + conversation_slot_events(tracker, domain)


def install() -> None:
    """Makes Rasa build :class:`KesherExtractSlots` wherever it builds ``action_extract_slots``.

    Rasa 3.6 looks the class up by name in :mod:`rasa.core.actions.action` each
    time it lists its default actions (``default_actions``), so replacing that
    name is enough; a test runs Rasa's own lookup to prove it.
    """
    rasa_actions.ActionExtractSlots = KesherExtractSlots
