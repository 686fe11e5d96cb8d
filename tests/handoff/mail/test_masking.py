"""Card and ID numbers are hidden; order numbers, phones and e-mail addresses stay readable."""

from __future__ import annotations

import pytest

from handoff.mail.masking import mask_sensitive

CARD_MASK = "•••• •••• •••• 9012"


@pytest.mark.parametrize("language", ["he", "en"])
@pytest.mark.parametrize(
    "card",
    [
        "4580123456789012",  # ungrouped
        "4580 1234 5678 9012",
        "4580-1234-5678-9012",
        "4580  1234  5678  9012",
        "4580 1234\n5678 9012",  # wrapped by a mail client
    ],
)
def test_card_numbers_keep_only_last_four(card: str, language: str) -> None:
    text = f"paid with {card}, thanks" if language == "en" else f"שילמתי בכרטיס {card}, תודה"
    masked = mask_sensitive(text, language)
    assert CARD_MASK in masked
    assert "4580" not in masked and "5678" not in masked
    assert masked.endswith(", thanks" if language == "en" else ", תודה")


@pytest.mark.parametrize("language", ["he", "en"])
@pytest.mark.parametrize(
    ("card", "last4"),
    [
        ("4580 1234 5678 9012 345", "2345"),  # 19 digits, 4-4-4-4-3
        ("3782 822463 10005", "0005"),  # Amex 4-6-5
        ("3056 930902 5904", "5904"),  # Diners 4-6-4
        ("4222222222222", "2222"),  # 13 digits
        ("4580-1234-5678-901", "8901"),  # 15 digits, 4-4-4-3
    ],
)
def test_other_card_lengths_and_layouts(card: str, last4: str, language: str) -> None:
    masked = mask_sensitive(f"card {card} ok", language)
    assert masked == f"card •••• •••• •••• {last4} ok"


@pytest.mark.parametrize("language", ["he", "en"])
def test_israeli_id_keeps_last_two(language: str) -> None:
    assert mask_sensitive("ID 123456782.", language) == "ID •••••••82."
    assert mask_sensitive("ת.ז. 123456782", language) == "ת.ז. •••••••82"
    assert mask_sensitive("(12345678-2)", language) == "(•••••••82)"
    assert mask_sensitive("id:123456782", language) == "id:•••••••82"


def test_hebrew_prefix_glued_to_a_number_is_kept() -> None:
    assert mask_sensitive("שלחתי ל-123456782 ו4580123456789012", "he") == "שלחתי ל-•••••••82 ו" + CARD_MASK


@pytest.mark.parametrize("language", ["he", "en"])
@pytest.mark.parametrize(
    "text",
    [
        "Where is order 123456? And #654321",
        "הזמנה מספר 123456 עוד לא הגיעה",
        "call me on 050-1234567",
        "or +972 50 123 4567 / +972-50-123-4567 / 0501234567 / 03-9876543",
        "mail me: dana.levi123456789@example.com",
        "reference K-3F9A1C, 2 items, 12.05.2024 at 08:00",
        "years 2021 2022 2023",
    ],
)
def test_order_numbers_phones_and_emails_stay_readable(text: str, language: str) -> None:
    assert mask_sensitive(text, language) == text


def test_everything_in_one_message() -> None:
    text = "Order 123456, card 4580 1234 5678 9012, ID 123456782, phone 050-1234567, mail a@b.co"
    assert mask_sensitive(text, "en") == (
        "Order 123456, card •••• •••• •••• 9012, ID •••••••82, phone 050-1234567, mail a@b.co"
    )


def test_unknown_language_still_masks() -> None:
    assert mask_sensitive("card 4580123456789012", "fr") == "card " + CARD_MASK
    assert mask_sensitive("", "he") == ""
