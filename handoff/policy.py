"""The handoff policy: triggers, routing topics and teams, business hours, estimates.

Read from ``handoff/policy.yml`` (the ``handoff_policy`` setting) by both the
action server, which decides when to hand over, and the handoff service, which
routes and estimates waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, time, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any, Dict, List, Mapping, Sequence, Tuple
from zoneinfo import ZoneInfo

import yaml

__all__ = ["DEFAULT_POLICY_PATH", "BusinessHours", "HandoffPolicy", "Trigger", "TriggerRule", "load_policy"]

DEFAULT_POLICY_PATH = Path(__file__).resolve().parent / "policy.yml"


class Trigger(StrEnum):
    """Why a conversation goes to a person; also the reason recorded with it."""

    EXPLICIT_REQUEST = "explicit_request"
    CONSECUTIVE_FALLBACKS = "consecutive_fallbacks"
    COMPLAINT_FRUSTRATION = "complaint_frustration"
    REPEATED_OUT_OF_SCOPE = "repeated_out_of_scope"
    VERIFICATION_FAILED = "verification_failed"


@dataclass(frozen=True)
class TriggerRule:
    """One trigger's settings.

    Attributes:
        enabled: Whether it hands over at all.
        mode: ``handoff`` goes straight to the queue; ``offer`` asks the customer first.
        priority: Queue priority of the conversations it hands over.
        count: How many times in a row (fallbacks, out-of-scope, failed verifications).
        cues: Frustration cues per language (complaints only), lower-case.
    """

    enabled: bool = True
    mode: str = "handoff"
    priority: int = 0
    count: int = 1
    cues: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class BusinessHours:
    """Opening hours per weekday in one time zone."""

    timezone: str = "Asia/Jerusalem"
    days: Mapping[int, Tuple[time, time]] = field(default_factory=dict)

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` (aware, or naive UTC) falls within opening hours."""
        local = self._local(at)
        hours = self.days.get(local.weekday())
        return bool(hours) and hours[0] <= local.time() < hours[1]  # type: ignore[index]

    def next_opening(self, at: datetime) -> datetime:
        """The next moment the desk opens (``at`` itself when open), in local time."""
        local = self._local(at)
        if self.is_open(local):
            return local
        for offset in range(0, 8):
            day = (local + timedelta(days=offset)).date()
            hours = self.days.get(day.weekday())
            if not hours:
                continue
            opening = datetime.combine(day, hours[0], tzinfo=local.tzinfo)
            if opening > local:
                return opening
        return local

    def _local(self, at: datetime) -> datetime:
        zone = ZoneInfo(self.timezone)
        if at.tzinfo is None:
            at = at.replace(tzinfo=ZoneInfo("UTC"))
        return at.astimezone(zone)


@dataclass(frozen=True)
class HandoffPolicy:
    """Everything ``policy.yml`` says."""

    triggers: Mapping[Trigger, TriggerRule]
    topics: Mapping[str, Tuple[str, ...]]
    teams: Mapping[str, Tuple[str, ...]]
    intents_considered: int = 5
    transfer_priority_bonus: int = 1
    hours: BusinessHours = field(default_factory=BusinessHours)
    estimate_samples: int = 20
    default_handle_minutes: float = 6.0
    min_samples: int = 3
    notify_eta_change_minutes: int = 2
    resolution_codes: Tuple[str, ...] = ("resolved",)
    csat_timeout_minutes: int = 30
    offer_priorities: Mapping[str, int] = field(default_factory=dict)
    live_channels: Tuple[str, ...] = ("kesher_callback", "web", "whatsapp", "telegram")

    def priority(self, reason: str) -> int:
        """Queue priority of a handoff for ``reason`` (a trigger or an accepted offer's reason)."""
        if reason in Trigger._value2member_map_:
            return self.rule(Trigger(reason)).priority
        return int(self.offer_priorities.get(reason, 0))

    def rule(self, trigger: Trigger) -> TriggerRule:
        """The settings of one trigger (disabled when the file leaves it out)."""
        return self.triggers.get(trigger, TriggerRule(enabled=False))

    def is_frustrated(self, text: str, language: str) -> bool:
        """Whether a complaint's text carries a frustration cue (either language's cues)."""
        lowered = text.lower()
        cues = self.rule(Trigger.COMPLAINT_FRUSTRATION).cues
        ordered = [language] + [lang for lang in cues if lang != language]
        return any(cue in lowered for lang in ordered for cue in cues.get(lang, ()))

    def topic_for(self, intents: Sequence[str]) -> str:
        """The routing topic of the most recent intent that has one (``general`` if none).

        Args:
            intents: The customer's intents, oldest first; FAQ intents as ``faq/<name>``.
        """
        for intent in reversed(list(intents)[-self.intents_considered :]):
            for topic, members in self.topics.items():
                if intent in members:
                    return topic
        return "general"

    def team_for(self, topic: str) -> str:
        """The team that owns a topic ("" when any agent may take it)."""
        return next((team for team, topics in self.teams.items() if topic in topics), "")


def _hours(raw: Mapping[Any, Any]) -> Dict[int, Tuple[time, time]]:
    days: Dict[int, Tuple[time, time]] = {}
    for day, span in (raw or {}).items():
        start, end = (time.fromisoformat(str(x)) for x in span)
        days[int(day)] = (start, end)
    return days


def _mode(trigger: str, value: object, path: Path) -> str:
    if value not in ("handoff", "offer"):
        raise ValueError(f"{path}: trigger {trigger!r}: mode must be handoff or offer, not {value!r}")
    return str(value)


def load_policy(path: Path = DEFAULT_POLICY_PATH) -> HandoffPolicy:
    """Reads the policy file.

    Args:
        path: The file (default ``handoff/policy.yml``).

    Raises:
        ValueError: The file names an unknown trigger or a malformed value.
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    triggers: Dict[Trigger, TriggerRule] = {}
    for name, raw in (data.get("triggers") or {}).items():
        try:
            trigger = Trigger(name)
        except ValueError as exc:
            raise ValueError(f"{path}: unknown trigger {name!r}; known: {[t.value for t in Trigger]}") from exc
        raw = raw or {}
        cues = {lang: tuple(str(c).lower() for c in words) for lang, words in (raw.get("cues") or {}).items()}
        triggers[trigger] = TriggerRule(
            enabled=bool(raw.get("enabled", True)),
            mode=_mode(name, raw.get("mode", "handoff"), path),
            priority=int(raw.get("priority", 0)),
            count=int(raw.get("count", 1)),
            cues=cues,
        )
    routing = data.get("routing") or {}
    hours = data.get("business_hours") or {}
    estimates = data.get("estimates") or {}
    return HandoffPolicy(
        triggers=triggers,
        topics={t: tuple(str(i) for i in intents) for t, intents in (routing.get("topics") or {}).items()},
        teams={t: tuple(str(x) for x in topics) for t, topics in (routing.get("teams") or {}).items()},
        intents_considered=int(routing.get("intents_considered", 5)),
        transfer_priority_bonus=int(routing.get("transfer_priority_bonus", 1)),
        hours=BusinessHours(
            timezone=str(hours.get("timezone", "Asia/Jerusalem")), days=_hours(hours.get("days") or {})
        ),
        estimate_samples=int(estimates.get("samples", 20)),
        default_handle_minutes=float(estimates.get("default_handle_minutes", 6)),
        min_samples=int(estimates.get("min_samples", 3)),
        notify_eta_change_minutes=int(estimates.get("notify_eta_change_minutes", 2)),
        resolution_codes=tuple(str(c) for c in data.get("resolution_codes") or ("resolved",)),
        csat_timeout_minutes=int(data.get("csat_timeout_minutes", 30)),
        offer_priorities={str(k): int(v) for k, v in (data.get("offer_priorities") or {}).items()},
        live_channels=tuple(str(c) for c in data.get("live_channels") or HandoffPolicy.live_channels),
    )


def recent_intents(events: List[Dict[str, Any]]) -> List[str]:
    """The customer's intents in a tracker's events, oldest first, FAQs as ``faq/<name>``."""
    intents: List[str] = []
    for event in events:
        if event.get("event") != "user":
            continue
        parse = event.get("parse_data") or {}
        name = (parse.get("intent") or {}).get("name")
        if not name:
            continue
        if name == "faq":
            retrieval = ((parse.get("response_selector") or {}).get("faq") or {}).get("response") or {}
            key = retrieval.get("intent_response_key") or ""
            name = key or name
        intents.append(name)
    return intents
