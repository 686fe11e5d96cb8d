"""Business hours on the Israeli calendar (#18 point 6): holidays closed, eves short, "back on" in both languages."""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from redis.asyncio import Redis

from core.bidi import strip_controls
from core.redis_keys import RedisKeys
from handoff.models import ConversationState, QueueTicket
from handoff.opening import callback_time_text, opening_text
from handoff.policy import load_policy
from handoff.state import HandoffStore
from tests.helpers.backends import desk_on
from tests.helpers.texts import catalog

IL = ZoneInfo("Asia/Jerusalem")
HOURS = load_policy().hours
ENGLISH_DAYS = re.compile(r"Sunday|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday")


def at(*args: int) -> datetime:
    return datetime(*args, tzinfo=IL)  # type: ignore[arg-type,misc]


def test_closed_on_a_holiday_and_open_the_next_working_day() -> None:
    # Rosh Hashanah 5787: Saturday 12 and Sunday 13 September 2026.
    assert HOURS.holiday(at(2026, 9, 13).date(), "en") == "Rosh Hashanah"
    assert HOURS.holiday(at(2026, 9, 13).date(), "he") == "ראש השנה"
    assert not HOURS.is_open(at(2026, 9, 13, 10, 0))  # a Sunday, normally open
    assert HOURS.next_opening(at(2026, 9, 13, 10, 0)) == at(2026, 9, 14, 8, 0)
    # Yom Kippur, Monday 21 September 2026: closed; Tuesday open as usual.
    assert not HOURS.is_open(at(2026, 9, 21, 11, 0))
    assert HOURS.is_open(at(2026, 9, 22, 11, 0))


def test_an_eve_closes_early() -> None:
    # Erev Yom Kippur is Sunday 20 September 2026: 08:00-13:00 (policy.yml eve_hours) instead of 08:00-20:00.
    assert HOURS.is_eve(at(2026, 9, 20).date())
    assert HOURS.is_open(at(2026, 9, 20, 12, 59))
    assert not HOURS.is_open(at(2026, 9, 20, 14, 0))
    assert HOURS.is_open(at(2026, 9, 27, 14, 0))  # Sunday of Chol HaMoed Sukkot: an ordinary day
    assert HOURS.next_opening(at(2026, 9, 20, 14, 0)) == at(2026, 9, 22, 8, 0)
    assert HOURS.closed_for(at(2026, 9, 20, 14, 0), "en") == "Yom Kippur"
    assert HOURS.closed_for(at(2026, 9, 17, 21, 0), "en") == ""  # an ordinary evening


def test_the_holiday_calendar_is_configured_in_policy_yml(tmp_path: Path) -> None:
    text = (Path(load_policy.__code__.co_filename).parent / "policy.yml").read_text(encoding="utf-8")
    no_holidays = tmp_path / "policy.yml"
    no_holidays.write_text(text.replace("    country: IL\n", "    country: \"\"\n"), encoding="utf-8")
    assert load_policy(no_holidays).hours.is_open(at(2026, 9, 21, 11, 0))  # Yom Kippur, no calendar: open
    unknown = tmp_path / "bad.yml"
    unknown.write_text(text.replace("closed_on: [public]", "closed_on: [bank_holidays]"), encoding="utf-8")
    with pytest.raises(ValueError, match="closed_on: unknown"):
        load_policy(unknown)


def test_back_on_reads_right_in_both_languages() -> None:
    texts = catalog()
    friday_evening = at(2026, 11, 27, 18, 0)
    sunday = HOURS.next_opening(friday_evening)
    assert opening_text(sunday, friday_evening, "en", texts) == "Sunday at 08:00"
    hebrew = opening_text(sunday, friday_evening, "he", texts)
    assert strip_controls(hebrew) == "יום ראשון בשעה 08:00"
    assert strip_controls(texts.text("queued_after_hours", "he", opening=hebrew, reference="K-1", position=1)).count(
        "יחזור לעבודה ביום ראשון בשעה 08:00") == 1
    assert "we're back on Sunday at 08:00" in texts.text("queued_after_hours", "en", opening="Sunday at 08:00",
                                                         reference="K-1", position=1)
    # A week or more away, the date is said too, in the customer's language.
    far = opening_text(at(2026, 10, 5, 8, 0), at(2026, 9, 28, 9, 0), "he", texts)
    assert strip_controls(far) == "יום שני, 5 באוקטובר, בשעה 08:00" and not ENGLISH_DAYS.search(far)
    assert strip_controls(callback_time_text(at(2026, 11, 29, 8, 0), friday_evening, "he", texts)) == (
        "יום ראשון, 08:00–10:00")
    assert callback_time_text(at(2026, 11, 27, 18, 0), at(2026, 11, 27, 9, 0), "en", texts) == "Today, 18:00–20:00"


@pytest.mark.parametrize("language, expected", [
    ("he", "שירות הלקוחות סגור לרגל יום כיפור; נחזור ביום שלישי בשעה 08:00."),
    ("en", "Our team is closed for Yom Kippur; we're back on Tuesday at 08:00."),
])
async def test_the_queue_notice_names_the_holiday(redis_client: Redis, language: str, expected: str) -> None:
    erev = at(2026, 9, 20, 15, 0).timestamp()  # Erev Yom Kippur, after the early close
    desk = desk_on(HandoffStore(redis_client, RedisKeys("test:ho:")), lambda: erev)
    ticket = QueueTicket(state=ConversationState.QUEUED, email_known=False, position=1, eta_minutes=0, agents_online=0,
                         in_hours=False, reference="K-ABC123")
    text = desk.ticket_text(ticket, language)
    assert strip_controls(text).startswith(expected)
    if language == "he":
        assert not ENGLISH_DAYS.search(text)
