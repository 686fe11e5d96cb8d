"""The handoff policy: triggers, routing topics and teams, business hours, estimates.

Read from ``handoff/policy.yml`` (the ``handoff_policy`` setting) by both the
action server, which decides when to hand over, and the handoff service, which
routes and estimates waits.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple
from zoneinfo import ZoneInfo

import holidays
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
    """Opening hours per weekday in one time zone, closed on the country's holidays, shorter on their eves.

    The holidays come from the ``holidays`` package (Israel's public holidays by default: Rosh Hashanah, Yom
    Kippur, Sukkot, Simchat Torah, Pesach's first and seventh days, Shavuot, Independence Day); the eve of a
    holiday is the day before its first day, and keeps ``eve_hours`` (e.g. closing at 13:00) where that is
    shorter than the weekday's own hours.

    Attributes:
        timezone: The desk's time zone.
        days: ``weekday (0 = Monday) -> (start, end)``; a weekday not listed is closed.
        country: ISO country code of the holiday calendar ("" for none).
        closed_on: The ``holidays`` categories the desk is closed on (``public``, ``optional``).
        eve_hours: Hours on a holiday's eve (None: the weekday's own).
    """

    timezone: str = "Asia/Jerusalem"
    days: Mapping[int, Tuple[time, time]] = field(default_factory=dict)
    country: str = ""
    closed_on: Tuple[str, ...] = ("public",)
    eve_hours: Optional[Tuple[time, time]] = None

    def holiday(self, day: date, language: str = "en") -> str:
        """The name of the holiday the desk is closed for on ``day`` ("" if none), in ``language``."""
        if not self.country:
            return ""
        return _holiday_calendar(self.country, self.closed_on, language).get(day) or ""

    def is_eve(self, day: date) -> bool:
        """Whether ``day`` is the eve of a holiday the desk closes for (and not a holiday itself)."""
        return bool(self.holiday(day + timedelta(days=1))) and not self.holiday(day)

    def hours_on(self, day: date) -> Optional[Tuple[time, time]]:
        """The desk's ``(start, end)`` on ``day``, or None when it is closed all day."""
        hours = self.days.get(day.weekday())
        if not hours or self.holiday(day):
            return None
        if self.eve_hours and self.is_eve(day):
            start, end = max(hours[0], self.eve_hours[0]), min(hours[1], self.eve_hours[1])
            return (start, end) if start < end else None
        return hours

    def is_open(self, at: datetime) -> bool:
        """Whether ``at`` (aware, or naive UTC) falls within opening hours."""
        local = self._local(at)
        hours = self.hours_on(local.date())
        return bool(hours) and hours[0] <= local.time() < hours[1]  # type: ignore[index]

    def next_opening(self, at: datetime) -> datetime:
        """The next moment the desk opens (``at`` itself when open), in local time."""
        local = self._local(at)
        if self.is_open(local):
            return local
        # Tishrei's holidays and weekends can close the desk for many days running.
        for offset in range(0, _LOOKAHEAD_DAYS):
            day = (local + timedelta(days=offset)).date()
            hours = self.hours_on(day)
            if not hours:
                continue
            opening = datetime.combine(day, hours[0], tzinfo=local.tzinfo)
            if opening > local:
                return opening
        return local

    def closed_for(self, at: datetime, language: str = "en") -> str:
        """The holiday the desk is closed for between ``at`` and its next opening ("" when open or none)."""
        local = self._local(at)
        if self.is_open(local):
            return ""
        opening = self.next_opening(local)
        day = local.date()
        while day <= opening.date():
            name = self.holiday(day, language)
            if name:
                return name
            day += timedelta(days=1)
        return ""

    def openings(self, at: datetime, count: int, step: timedelta = timedelta(hours=2)) -> List[datetime]:
        """The next ``count`` start times of ``step``-long windows within opening hours, after ``at``."""
        local = self._local(at)
        found: List[datetime] = []
        for offset in range(0, _LOOKAHEAD_DAYS):
            day = (local + timedelta(days=offset)).date()
            hours = self.hours_on(day)
            if not hours:
                continue
            start = datetime.combine(day, hours[0], tzinfo=local.tzinfo)
            end = datetime.combine(day, hours[1], tzinfo=local.tzinfo)
            while start + step <= end and len(found) < count:
                if start >= local:
                    found.append(start)
                start += step
            if len(found) >= count:
                break
        return found

    def localize(self, at: datetime) -> datetime:
        """``at`` (aware, or naive UTC) in the desk's time zone."""
        return self._local(at)

    def _local(self, at: datetime) -> datetime:
        zone = ZoneInfo(self.timezone)
        if at.tzinfo is None:
            at = at.replace(tzinfo=ZoneInfo("UTC"))
        return at.astimezone(zone)


_LOOKAHEAD_DAYS = 31
# The holidays package's language codes for ours.
_HOLIDAY_LANGUAGES = {"he": "he", "en": "en_US"}


@lru_cache(maxsize=16)
def _holiday_calendar(country: str, categories: Tuple[str, ...], language: str) -> holidays.HolidayBase:
    """One calendar per country, categories and language; it fills in each year when first asked."""
    return holidays.country_holidays(country, categories=categories,
                                     language=_HOLIDAY_LANGUAGES.get(language, "en_US"))


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


def _business_hours(raw: Mapping[str, Any], path: Path) -> BusinessHours:
    holiday = raw.get("holidays") or {}
    eve = holiday.get("eve_hours")
    country = str(holiday.get("country") or "")
    closed_on = tuple(str(c) for c in holiday.get("closed_on") or ("public",))
    if country:
        try:
            known = holidays.country_holidays(country).supported_categories
        except NotImplementedError as exc:
            raise ValueError(f"{path}: business_hours.holidays: unknown country {country!r}") from exc
        unknown = sorted(set(closed_on) - set(known))
        if unknown:
            raise ValueError(f"{path}: business_hours.holidays.closed_on: unknown {unknown}; known: {sorted(known)}")
    return BusinessHours(
        timezone=str(raw.get("timezone", "Asia/Jerusalem")),
        days=_hours(raw.get("days") or {}),
        country=country,
        closed_on=closed_on,
        eve_hours=(time.fromisoformat(str(eve[0])), time.fromisoformat(str(eve[1]))) if eve else None,
    )


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
        hours=_business_hours(hours, path),
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
