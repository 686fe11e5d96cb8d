"""When the desk is back, and what it is closed for, as the customer's language says it.

``opening_text`` gives the moment without a preposition, for texts that put "on" / "ב" before it
("Sunday at 08:00", "יום ראשון בשעה 08:00"; with the date when it is a week or more away). Weekday and
month names come from Babel (CLDR) in the customer's language, so a Hebrew text never shows an English day.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from babel.dates import format_date

from core.language import LOCALES, as_language
from core.texts import TextCatalog

__all__ = ["callback_time_text", "opening_text"]

_DATE = {"he": "d בMMMM", "en": "d MMMM"}


def opening_text(when: datetime, now: datetime, language: str, texts: TextCatalog) -> str:
    """``when`` (local) as "Sunday at 08:00", or "Sunday, 4 October at 08:00" a week or more after ``now``."""
    lang = as_language(language)
    locale = LOCALES[lang]
    weekday = format_date(when, "EEEE", locale=locale)
    clock = when.strftime("%H:%M")
    if when - now >= timedelta(days=6):
        return texts.text("calendar_when_dated", lang, weekday=weekday,
                          date=format_date(when, _DATE[lang], locale=locale), time=clock)
    return texts.text("opening_when", lang, weekday=weekday, time=clock)


def callback_time_text(when: datetime, now: datetime, language: str, texts: TextCatalog,
                       window: timedelta = timedelta(hours=2)) -> str:
    """A callback window as the customer reads it: "Sunday, 08:00–10:00" (with the date a week or more away)."""
    lang = as_language(language)
    locale = LOCALES[lang]
    weekday = format_date(when, "EEEE", locale=locale)
    span = f"{when.strftime('%H:%M')}–{(when + window).strftime('%H:%M')}"
    if when.date() == now.date():
        return texts.text("callback_window_today", lang, time=span)
    if when - now >= timedelta(days=6):
        return texts.text("callback_window_dated", lang, weekday=weekday,
                          date=format_date(when, _DATE[lang], locale=locale), time=span)
    return texts.text("callback_window", lang, weekday=weekday, time=span)

