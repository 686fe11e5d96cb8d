"""Hides payment-card and Israeli ID numbers in free text, and phones and e-mail addresses in log lines.

A number is a run of digit groups joined by separators: ordinary and Unicode
spaces (no-break U+00A0, narrow no-break U+202F, thin and the other U+2000
spaces), dots, slashes, dashes (hyphen, en and em dash, minus, the Hebrew
maqaf) and a line break a mail client inserted. Inside a run, windows of whole
groups are tried, longest first:

* a **card** is 13–19 digits, written whole, in fours (the last group may be
  shorter: 4-4-4-1 … 4-4-4-4-3) or as Amex/Diners 4-6-5 / 4-6-4, whose Luhn
  check passes;
* an **Israeli ID** is 8 or 9 digits (8: the leading zero left out), written
  whole, with the check digit apart (``12345678-9``) or in threes
  (``123 456 789``, ``123.456.789``), whose check digit is valid.

A group is never split, so a 22-digit tracking number stays as it is, and the
group shapes plus the check digits keep order numbers (6 digits), phone
numbers (``050-1234567``, ``+972 50 123 4567``, ``03-9876543``) and dates
(``12.05.2024``) readable. Digits glued to a Latin letter (``A123456782``, an
e-mail's local part) are left alone; a Hebrew prefix letter (``ל-``, ``ו``) or a
label with a colon (``id:``) before a number is kept and the number masked.

This module is pure (no I/O, no Kesher imports), so the e-mails, the console's
transcript, the stored handoff events and the log filter all share it.
"""

from __future__ import annotations

import re
from typing import List, Optional, Tuple

__all__ = [
    "MASK",
    "is_valid_israeli_id",
    "luhn_valid",
    "mask_card",
    "mask_contacts",
    "mask_email",
    "mask_id",
    "mask_phone",
    "mask_sensitive",
]

MASK = "•"

# Spaces a customer or a keyboard may put between digit groups, Unicode ones included.
SPACES = " \t\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
# Dashes: hyphen-minus, hyphen, non-breaking hyphen, figure dash, en dash, em dash, minus sign, maqaf.
DASHES = "-\u2010\u2011\u2012\u2013\u2014\u2212\u05be"
_SEP_CHARS = re.escape(SPACES + DASHES + "./\\") + r"\r\n"
# A run of digit groups: at most 3 separator characters between two groups.
_RUN = re.compile(rf"(?<![0-9A-Za-z_@+])\d+(?:[{_SEP_CHARS}]{{1,3}}\d+)*(?![0-9@])")
_GROUP = re.compile(r"\d+")
# Starts only where a run of address characters starts, so a long word costs one pass, not one per letter.
_EMAIL = re.compile(r"(?<![\w.+'-])[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")
# An international number (+ and 8–15 digits, spaces or dashes allowed) or an Israeli local one
# (0 + area or mobile prefix + 7 digits).
_PHONE = re.compile(
    rf"(?<![\w+])(?:\+\d(?:[{re.escape(SPACES + DASHES)}]?\d){{7,14}}"
    rf"|0(?:5\d|[2-4]|[8-9]|7\d)[{re.escape(SPACES + DASHES)}]?\d{{3}}[{re.escape(SPACES + DASHES)}]?\d{{4}})(?!\d)"
)

Span = Tuple[int, int, str]  # start, end, "card" | "id"


def luhn_valid(digits: str) -> bool:
    """Whether a string of digits passes the Luhn check (payment cards)."""
    if not digits.isdigit():
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def is_valid_israeli_id(digits: str) -> bool:
    """Whether up to 9 digits form an Israeli ID number with a valid check digit (shorter: leading zeros)."""
    if not digits.isdigit() or not 1 <= len(digits) <= 9:
        return False
    total = 0
    for i, ch in enumerate(digits.zfill(9)):
        d = int(ch) * (1 + i % 2)
        total += d - 9 if d > 9 else d
    return total % 10 == 0


def mask_card(number: str) -> str:
    """The masked form of a card number: ``•••• •••• •••• 1234``."""
    digits = re.sub(r"\D", "", number)
    return f"{MASK * 4} {MASK * 4} {MASK * 4} {digits[-4:]}"


def mask_id(number: str) -> str:
    """The masked form of an ID number: every digit but the last 2 hidden."""
    digits = re.sub(r"\D", "", number)
    return MASK * (len(digits) - 2) + digits[-2:]


# How IDs are written: whole, the check digit apart (8+1, or 7+1 with the leading zero left out),
# or in threes (3-3-3, 2-3-3 with the leading zero left out).
_ID_LAYOUTS = frozenset({(9,), (8,), (8, 1), (7, 1), (3, 3, 3), (2, 3, 3)})


def _card_layout(sizes: Tuple[int, ...]) -> bool:
    """Whole, in fours (4-4-4-1 … 4-4-4-4-3), or Amex/Diners 4-6-5 / 4-6-4."""
    if len(sizes) == 1 or all(n == 4 for n in sizes[:-1]):
        return True
    return len(sizes) == 3 and sizes[0] == 4 and sizes[1] == 6


def _best_window(texts: List[str], sizes: List[int], start: int) -> Optional[Tuple[int, str]]:
    """The longest window of groups from ``start`` that is a card, else an ID: (end index, kind)."""
    if sizes[start] < 8 and sizes[start] not in (2, 3, 4, 7):
        return None  # no card or ID layout starts with a group of this size
    found: Optional[Tuple[int, str]] = None
    digits = 0
    for end in range(start, len(sizes)):
        digits += sizes[end]
        if digits > 19:
            break
        shape = tuple(sizes[start:end + 1])
        if 13 <= digits <= 19 and _card_layout(shape) and luhn_valid("".join(texts[start:end + 1])):
            found = (end, "card")
        elif (digits in (8, 9) and shape in _ID_LAYOUTS and (found is None or found[1] == "id")
              and is_valid_israeli_id("".join(texts[start:end + 1]))):
            found = (end, "id")
    return found


def _spans(text: str) -> List[Span]:
    emails = [m.span() for m in _EMAIL.finditer(text)] if "@" in text else []
    out: List[Span] = []
    for run in _RUN.finditer(text):
        if any(a < run.end() and run.start() < b for a, b in emails):
            continue
        groups = list(_GROUP.finditer(text, run.start(), run.end()))
        texts = [g.group() for g in groups]
        sizes = [len(t) for t in texts]
        i = 0
        while i < len(groups):
            best = _best_window(texts, sizes, i)
            if best is None:
                i += 1
                continue
            end, kind = best
            out.append((groups[i].start(), groups[end].end(), kind))
            i = end + 1
    return out


def mask_sensitive(text: str, language: str = "") -> str:
    """Masks payment-card and Israeli ID numbers in ``text``.

    Args:
        text: Any text (a customer's message, an e-mail, a stored event); plain text, not HTML.
        language: Kept for callers that pass the text's language; the rules do not depend on it.

    Returns:
        The text with each card number shown as ``•••• •••• •••• 1234`` and each ID
        number as ``•••••••89``; everything else unchanged, spacing included.
    """
    del language
    if not text or not any(ch.isdigit() for ch in text):
        return text
    spans = _spans(text)
    if not spans:
        return text
    out: List[str] = []
    last = 0
    for start, end, kind in spans:
        out.append(text[last:start])
        number = text[start:end]
        out.append(mask_card(number) if kind == "card" else mask_id(number))
        last = end
    out.append(text[last:])
    return "".join(out)


def mask_email(address: str) -> str:
    """An e-mail address with its local part hidden but the first letter: ``d•••@example.com``."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}{MASK * 3}@{domain}"


def mask_phone(number: str) -> str:
    """A phone number with every digit but the last 2 hidden (``+•••••••••67``); separators kept."""
    total = sum(ch.isdigit() for ch in number)
    seen = 0
    out: List[str] = []
    for ch in number:
        if ch.isdigit():
            seen += 1
            out.append(ch if seen > total - 2 else MASK)
        else:
            out.append(ch)
    return "".join(out)


def mask_contacts(text: str) -> str:
    """Masks e-mail addresses and phone numbers (international with ``+``, Israeli local) in ``text``.

    Meant for log lines, where a conversation id such as ``whatsapp:+972501234567``
    or an address a customer typed would otherwise be written in clear.
    """
    if not text:
        return text
    text = _EMAIL.sub(lambda m: mask_email(m.group()), text) if "@" in text else text
    return _PHONE.sub(lambda m: mask_phone(m.group()), text)
