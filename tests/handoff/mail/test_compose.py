"""The handoff and closing e-mails as a customer reads them, in Hebrew and English."""

from __future__ import annotations

from datetime import datetime
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import pytest

from core.bidi import strip_controls
from core.language import LANGUAGES
from core.settings import Settings
from handoff.mail.compose import KNOWN_REASONS, closing_summary, handoff_summary, message_id
from handoff.models import Agent, Conversation
from tests.helpers.texts import catalog

SETTINGS = Settings(mail_from="Kesher Support <support@kesher.example>")


def text(key: str, language: str, **values: object) -> str:
    return catalog().text(f"mail_{key}", language, **values)


def _conv(language: str = "en", **fields: object) -> Conversation:
    values: dict[str, object] = dict(
        cid="c1", language=language, reason="explicit_request", reference="K-3F9A1C",
        customer_name="Noa Cohen", email="noa@example.com",
        asked=["Where is order 123456?"], found=["Order 123456: shipped on 2 May"],
    )
    values.update(fields)
    return Conversation(**values)  # type: ignore[arg-type]


def _parts(msg: EmailMessage) -> tuple[str, str]:
    plain, rich = msg.get_body(("plain",)), msg.get_body(("html",))
    assert isinstance(plain, EmailMessage) and isinstance(rich, EmailMessage)
    return plain.get_content(), rich.get_content()


def _handoff(conv: Conversation, **kw: object) -> EmailMessage:
    args: dict[str, object] = dict(position=2, eta_minutes=7, after_hours=False, next_opening=None)
    args.update(kw)
    return handoff_summary(conv, SETTINGS, catalog(), **args)  # type: ignore[arg-type]


@pytest.mark.parametrize("minutes, english, hebrew", [
    (1, "the estimated wait is about a minute.", "זמן ההמתנה המשוער הוא כדקה."),
    (2, "the estimated wait is about 2 minutes.", "זמן ההמתנה המשוער הוא כשתי דקות."),
    (7, "the estimated wait is about 7 minutes.", "זמן ההמתנה המשוער הוא כ-7 דקות."),
])
def test_the_wait_is_counted_in_each_language(minutes: int, english: str, hebrew: str) -> None:
    plain_en, _ = _parts(_handoff(_conv("en"), eta_minutes=minutes))
    plain_he, _ = _parts(_handoff(_conv("he"), eta_minutes=minutes))
    assert english in plain_en
    assert hebrew in strip_controls(plain_he)  # the number is isolated in Hebrew (core/bidi.py)


@pytest.mark.parametrize("language", LANGUAGES)
def test_each_handoff_reason_is_explained_in_its_own_words(language: str) -> None:
    sentences = set()
    for reason in KNOWN_REASONS:
        plain, rich = _parts(_handoff(_conv(language, reason=reason)))
        sentence = text(f"reason_{reason}", language)
        assert sentence in plain and sentence in rich
        sentences.add(sentence)
    assert len(sentences) == len(KNOWN_REASONS)
    plain, _ = _parts(_handoff(_conv(language, reason="something_new")))
    assert text("reason_generic", language) in plain


def test_english_handoff_mail_tells_the_whole_story() -> None:
    msg = _handoff(_conv("en"), mail_id="abc123")
    assert msg.get_content_type() == "multipart/alternative"
    assert "K-3F9A1C" in msg["Subject"]
    assert msg["To"] == "Noa Cohen <noa@example.com>"
    assert msg["Message-ID"] == "<abc123@kesher.example>" == message_id("abc123", SETTINGS)
    assert msg["Content-Language"] == "en"
    plain, rich = _parts(msg)
    for part in (plain, rich):
        assert "Hello Noa Cohen," in part
        assert "Where is order 123456?" in part
        assert "Order 123456: shipped on 2 May" in part
        assert "You asked to speak with a person" in part
        assert "You are number 2 in line, and the estimated wait is about 7 minutes." in part
        assert "K-3F9A1C" in part
    assert '<html dir="ltr" lang="en">' in rich and "text-align:left" in rich


def test_hebrew_mail_is_right_to_left() -> None:
    msg = _handoff(_conv("he", customer_name="נועה כהן", asked=["איפה ההזמנה 123456?"]))
    plain, rich = _parts(msg)
    assert '<html dir="rtl" lang="he">' in rich and "text-align:right" in rich
    assert "שלום נועה כהן," in plain
    assert "איפה ההזמנה 123456?" in rich
    assert "אתם במקום 2 בתור" in strip_controls(plain)
    assert "K-3F9A1C" in msg["Subject"] and "מספר פנייה" in msg["Subject"]


@pytest.mark.parametrize("language", LANGUAGES)
def test_after_hours_mail_says_when_the_team_is_back(language: str) -> None:
    opening = datetime(2024, 5, 12, 8, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))
    plain, _ = _parts(_handoff(_conv(language), after_hours=True, next_opening=opening))
    expected = "Sunday, 12 May at 08:00" if language == "en" else "יום ראשון, 12.05 בשעה 08:00"
    assert expected in strip_controls(plain)
    assert "in line" not in plain and "בתור" not in plain
    # The Desk may hand over a text it already wrote in the customer's language.
    plain, _ = _parts(_handoff(_conv(language), after_hours=True, next_opening="Sunday at 08:00"))
    assert "Sunday at 08:00" in plain


def test_customer_text_is_escaped_and_masked_everywhere() -> None:
    conv = _conv(
        "en",
        customer_name='<img src=x onerror="alert(1)">',
        asked=["<script>alert('x')</script> my card 4580 1234 5678 9015 and ID 123456782"],
        reference="4580 1234 5678 9015",  # absurd, but shows the subject is masked too
    )
    msg = _handoff(conv)
    plain, rich = _parts(msg)
    assert "<script>" not in rich and "&lt;script&gt;" in rich
    assert "<img" not in rich and "&lt;img" in rich
    assert "<script>alert('x')</script>" in plain  # plain text shows it as written
    for part in (plain, rich, msg["Subject"]):
        assert "4580" not in part and "•••• •••• •••• 9015" in part
    for part in (plain, rich):
        assert "123456782" not in part and "•••••••82" in part


def test_closing_mail_is_signed_by_the_agent_who_takes_replies() -> None:
    conv = _conv(
        "en", resolution="refund_issued",
        summary="Refunded the delivery fee.\n<b>No</b> card 4580123456789015 kept.",
        next_steps="The refund shows within 5 working days.",
    )
    msg = closing_summary(conv, SETTINGS, catalog(), Agent("dana", "Dana Levi", email="dana@kesher.example"))
    assert msg["Reply-To"] == "Dana Levi <dana@kesher.example>"
    assert "Dana" in msg["Subject"] and "K-3F9A1C" in msg["Subject"]
    plain, rich = _parts(msg)
    for part in (plain, rich):
        # What the customer asked comes first, so the mail stands on its own.
        assert part.index("What you asked") < part.index("Where is order 123456?") < part.index("What we did")
        assert "Refunded the delivery fee." in part
        assert "The refund shows within 5 working days." in part
        # The agent's own words stay; the code's promise of a card refund is not repeated, as no action of
        # this chat backs it (#17: tests/handoff/mail/test_closing_actions.py).
        assert "We've issued a refund." not in part and "The conversation has ended." in part
        assert "Dana Levi" in part
        assert "4580123456789015" not in part
    assert "&lt;b&gt;No&lt;/b&gt;" in rich and "<b>No</b>" not in rich


def test_closing_mail_without_agent_address_replies_to_the_shop() -> None:
    conv = _conv("he", resolution="no_such_code", summary="", next_steps="")
    msg = closing_summary(conv, SETTINGS, catalog(), Agent("omer", "Omer Katz"))
    assert msg["Reply-To"] == SETTINGS.mail_from
    plain, rich = _parts(msg)
    assert text("resolution_generic", "he") in plain
    assert text("closing_next_none", "he") in plain
    assert text("closing_reply_team", "he") in plain
    assert text("handoff_asked_heading", "he") in plain
    assert 'dir="rtl"' in rich


def test_a_conversation_without_address_cannot_be_mailed() -> None:
    with pytest.raises(ValueError):
        _handoff(_conv(email=""))
    with pytest.raises(ValueError):
        _handoff(_conv(email="noa@example.com\r\nBcc: everyone@example.com"))
