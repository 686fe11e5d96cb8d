"""Card and ID numbers are hidden whatever separates their digits; order numbers, phones and dates stay readable.

The property tests build real numbers: card numbers with a correct Luhn digit and
Israeli IDs with a correct check digit, written with every separator a customer's
keyboard or phone produces, and check that none of their digits but the last few
survive; the same numbers with a wrong check digit, and phones, dates and order
numbers, come out exactly as they went in.
"""

from __future__ import annotations

import re
from typing import List

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import handoff.mail.masking as mail_masking
from core.masking import (
    is_valid_israeli_id,
    luhn_valid,
    mask_contacts,
    mask_sensitive,
)

CARD_MASK = "•••• •••• •••• 9015"
VALID_CARD = "4580123456789015"

# Every separator seen between digit groups: spaces (ordinary, double, no-break U+00A0, narrow
# no-break U+202F, thin U+2009, figure U+2007), dots, slashes, dashes (hyphen, en dash, maqaf).
SEPARATORS = [" ", "  ", "\u00a0", "\u202f", "\u2009", "\u2007", ".", "/", "-", "\u2013", "\u05be", " - ", "\n"]
BEFORE = ["", "card ", "paid with ", "שילמתי בכרטיס ", "my ID is ", "ת.ז. ", "ID: ", "("]
AFTER = ["", ", thanks", ".", " תודה", ")", "!"]

PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def luhn_digit(body: str) -> str:
    """The digit that makes ``body + digit`` pass the Luhn check."""
    return next(d for d in "0123456789" if luhn_valid(body + d))


def id_digit(body: str) -> str:
    """The check digit of an 8-digit Israeli ID body."""
    return next(d for d in "0123456789" if is_valid_israeli_id(body + d))


def digits_left(text: str) -> str:
    return re.sub(r"\D", "", text)


def grouped(digits: str, sizes: List[int], seps: List[str]) -> str:
    out, i = [], 0
    for n, size in enumerate(sizes):
        out.append(digits[i:i + size])
        i += size
        if n < len(sizes) - 1:
            out.append(seps[n % len(seps)])
    assert i == len(digits)
    return "".join(out)


def card_layouts(length: int) -> List[List[int]]:
    fours = [4] * (length // 4) + ([length % 4] if length % 4 else [])
    layouts = [[length], fours]
    if length == 15:
        layouts.append([4, 6, 5])
    if length == 14:
        layouts.append([4, 6, 4])
    return layouts


@st.composite
def cards(draw: st.DrawFn, valid: bool = True) -> tuple[str, str]:
    """(digits, as written) of a card number with a right (or wrong) Luhn digit."""
    length = draw(st.integers(13, 19))
    body = draw(st.text("0123456789", min_size=length - 1, max_size=length - 1))
    good = luhn_digit(body)
    check = good if valid else draw(st.sampled_from([d for d in "0123456789" if d != good]))
    digits = body + check
    sizes = draw(st.sampled_from(card_layouts(length)))
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=5))
    return digits, grouped(digits, sizes, seps)


@st.composite
def israeli_ids(draw: st.DrawFn, valid: bool = True) -> tuple[str, str]:
    """(digits, as written) of an ID with a right (or wrong) check digit; 8 digits when it starts with 0."""
    body = draw(st.text("0123456789", min_size=8, max_size=8))
    good = id_digit(body)
    check = good if valid else draw(st.sampled_from([d for d in "0123456789" if d != good]))
    digits = body + check
    short = digits.startswith("0") and draw(st.booleans())
    if short:
        digits = digits[1:]
        sizes = draw(st.sampled_from([[8], [7, 1], [2, 3, 3]]))
    else:
        sizes = draw(st.sampled_from([[9], [8, 1], [3, 3, 3]]))
    seps = draw(st.lists(st.sampled_from(SEPARATORS), min_size=1, max_size=3))
    return digits, grouped(digits, sizes, seps)


def in_text(data: st.DataObject, number: str) -> str:
    return data.draw(st.sampled_from(BEFORE)) + number + data.draw(st.sampled_from(AFTER))


# -- the check digits themselves ---------------------------------------------------------------------
@pytest.mark.parametrize("number", ["4580123456789015", "378282246310005", "30569309025904", "4222222222222",
                                    "6011111111111117", "5555555555554444"])
def test_luhn_accepts_real_test_card_numbers(number: str) -> None:
    assert luhn_valid(number)
    assert not luhn_valid(number[:-1] + str((int(number[-1]) + 1) % 10))


@pytest.mark.parametrize("number", ["123456782", "000000018", "01234567" + "4", "1234567" + "4"])
def test_israeli_id_check_digit(number: str) -> None:
    assert is_valid_israeli_id(number)
    assert not is_valid_israeli_id(number[:-1] + str((int(number[-1]) + 1) % 10))


# -- properties ------------------------------------------------------------------------------------------
@PROPERTY
@given(data=st.data(), card=cards())
def test_every_valid_card_is_masked_whatever_the_separator(data: st.DataObject, card: tuple[str, str]) -> None:
    digits, written = card
    text = in_text(data, written)
    masked = mask_sensitive(text)
    assert f"•••• •••• •••• {digits[-4:]}" in masked, (text, masked)
    assert digits_left(masked) == digits[-4:], (text, masked)


@PROPERTY
@given(data=st.data(), card=cards(valid=False))
def test_a_number_failing_luhn_is_not_a_card(data: st.DataObject, card: tuple[str, str]) -> None:
    _, written = card
    groups = re.findall(r"\d+", written)
    # no whole-group part of it may be a card (or an ID) by chance either
    for i in range(len(groups)):
        for j in range(i + 1, len(groups) + 1):
            part = "".join(groups[i:j])
            assume(not luhn_valid(part) and not is_valid_israeli_id(part))
    text = in_text(data, written)
    assert mask_sensitive(text) == text


@PROPERTY
@given(data=st.data(), id_number=israeli_ids())
def test_every_valid_israeli_id_is_masked_whatever_the_separator(
    data: st.DataObject, id_number: tuple[str, str]
) -> None:
    digits, written = id_number
    text = in_text(data, written)
    masked = mask_sensitive(text)
    assert digits_left(masked) == digits[-2:], (text, masked)
    assert "•" * (len(digits) - 2) + digits[-2:] in masked


@PROPERTY
@given(data=st.data(), id_number=israeli_ids(valid=False))
def test_a_number_with_a_wrong_id_check_digit_is_left_alone(
    data: st.DataObject, id_number: tuple[str, str]
) -> None:
    _, written = id_number
    groups = re.findall(r"\d+", written)
    assume(not any(is_valid_israeli_id("".join(groups[:k])) for k in range(1, len(groups))))
    text = in_text(data, written)
    assert mask_sensitive(text) == text


phones = st.one_of(
    st.builds(lambda p, a, b, s: f"05{p}{s}{a}{s}{b}" if s != "-" else f"05{p}-{a}{b}",
              st.text("0123456789", min_size=1, max_size=1), st.text("0123456789", min_size=3, max_size=3),
              st.text("0123456789", min_size=4, max_size=4), st.sampled_from(["", " ", "-", "\u00a0"])),
    st.builds(lambda p, a, b, s: f"+972{s}5{p}{s}{a}{s}{b}",
              st.text("0123456789", min_size=1, max_size=1), st.text("0123456789", min_size=3, max_size=3),
              st.text("0123456789", min_size=4, max_size=4), st.sampled_from([" ", "-", ""])),
    st.builds(lambda area, n: f"0{area}-{n}", st.sampled_from("23489"), st.text("0123456789", min_size=7,
                                                                                  max_size=7)),
)
dates = st.builds(
    lambda d, m, y, fmt: fmt.format(d=d, m=m, y=y),
    st.integers(1, 28).map(lambda n: f"{n:02d}"), st.integers(1, 12).map(lambda n: f"{n:02d}"),
    st.integers(1990, 2035).map(str), st.sampled_from(["{d}.{m}.{y}", "{d}/{m}/{y}", "{y}-{m}-{d}", "{d}-{m}-{y}"]),
)
order_numbers = st.lists(st.integers(100000, 999999).map(str), min_size=1, max_size=4)


@PROPERTY
@given(phone=phones, date=dates, orders=order_numbers, joiner=st.sampled_from([" ", ", ", " / ", " ו", "\u00a0"]))
def test_phones_dates_and_order_numbers_stay_readable(phone: str, date: str, orders: List[str], joiner: str) -> None:
    text = f"orders {joiner.join(orders)} on {date}, call {phone} or {phone} / {date} {date}"
    assert mask_sensitive(text) == text


# -- examples a reviewer can read ------------------------------------------------------------------------
@pytest.mark.parametrize(
    "card",
    [
        "4580123456789015",
        "4580 1234 5678 9015",
        "4580-1234-5678-9015",
        "4580  1234  5678  9015",
        "4580 1234\n5678 9015",  # wrapped by a mail client
        "4580\u00a01234\u00a05678\u00a09015",  # no-break spaces
        "4580\u202f1234\u202f5678\u202f9015",  # narrow no-break spaces
        "4580\u20091234\u20095678\u20099015",  # thin spaces
        "4580.1234.5678.9015",
        "4580/1234/5678/9015",
        "4580–1234–5678–9015",  # en dashes
    ],
)
@pytest.mark.parametrize("language", ["he", "en"])
def test_card_numbers_keep_only_last_four(card: str, language: str) -> None:
    text = f"paid with {card}, thanks" if language == "en" else f"שילמתי בכרטיס {card}, תודה"
    masked = mask_sensitive(text, language)
    assert CARD_MASK in masked
    assert "4580" not in masked and "5678" not in masked
    assert masked.endswith(", thanks" if language == "en" else ", תודה")


@pytest.mark.parametrize(
    ("card", "last4"),
    [
        ("4580 1234 5678 9012 344", "2344"),  # 19 digits, 4-4-4-4-3
        ("3782 822463 10005", "0005"),  # Amex 4-6-5
        ("3056 930902 5904", "5904"),  # Diners 4-6-4
        ("4222222222222", "2222"),  # 13 digits
        ("4580-1234-5678-900", "8900"),  # 15 digits, 4-4-4-3
    ],
)
def test_other_card_lengths_and_layouts(card: str, last4: str) -> None:
    assert mask_sensitive(f"card {card} ok") == f"card •••• •••• •••• {last4} ok"


def test_a_card_shaped_number_failing_luhn_is_left_alone() -> None:
    assert mask_sensitive("card 4580 1234 5678 9012 ok") == "card 4580 1234 5678 9012 ok"


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("ID 123456782.", "ID •••••••82."),
        ("ת.ז. 123456782", "ת.ז. •••••••82"),
        ("(12345678-2)", "(•••••••82)"),
        ("id:123456782", "id:•••••••82"),
        ("ID 123 456 782", "ID •••••••82"),  # ordinary spaces
        ("ID 123\u00a0456\u00a0782", "ID •••••••82"),
        ("ID 123.456.782", "ID •••••••82"),
        ("ID 01234567-4", "ID •••••••74"),
        ("ID 1234567-4", "ID ••••••74"),  # 8 digits: the leading zero left out
        ("ID 12345674", "ID ••••••74"),
    ],
)
def test_israeli_ids_keep_last_two(text: str, masked: str) -> None:
    assert mask_sensitive(text, "he") == masked


def test_hebrew_prefix_glued_to_a_number_is_kept() -> None:
    assert mask_sensitive("שלחתי ל-123456782 ו" + VALID_CARD, "he") == "שלחתי ל-•••••••82 ו" + CARD_MASK


@pytest.mark.parametrize(
    "text",
    [
        "Where is order 123456? And #654321",
        "orders 123456 654321 111111 222222",
        "הזמנה מספר 123456 עוד לא הגיעה",
        "call me on 050-1234567",
        "or +972 50 123 4567 / +972-50-123-4567 / 0501234567 / 03-9876543",
        "mail me: dana.levi123456789@example.com",
        "123456782@example.com",
        "reference K-3F9A1C, 2 items, 12.05.2024 at 08:00",
        "years 2021 2022 2023",
        "tracking 1Z999AA10123456784 and 4580123456789015123456",  # not a card: 22 digits in one group
    ],
)
def test_order_numbers_phones_and_emails_stay_readable(text: str) -> None:
    assert mask_sensitive(text) == text


def test_everything_in_one_message() -> None:
    text = "Order 123456, card 4580 1234 5678 9015, ID 123456782, phone 050-1234567, mail a@b.co"
    assert mask_sensitive(text, "en") == (
        "Order 123456, card •••• •••• •••• 9015, ID •••••••82, phone 050-1234567, mail a@b.co"
    )


def test_the_mail_module_masks_the_same_way() -> None:
    assert mail_masking.mask_sensitive is mask_sensitive
    assert mail_masking.mask_sensitive("card " + VALID_CARD, "fr") == "card " + CARD_MASK
    assert mail_masking.mask_sensitive("", "he") == ""


def test_contacts_are_masked_for_logs() -> None:
    line = "cid=whatsapp:+972501234567 from dana.levi@example.com phone 050-1234567 port 5005 id 1773570600000-0"
    masked = mask_contacts(line)
    assert "+972501234567" not in masked and "dana.levi" not in masked and "050-1234567" not in masked
    assert "whatsapp:+••••••••••67" in masked and "d•••@example.com" in masked
    assert "port 5005 id 1773570600000-0" in masked  # ports and stream ids stay
