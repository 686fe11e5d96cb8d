"""Hides payment-card and Israeli ID numbers in text that goes into customer e-mails.

The text is split with spaCy's tokenizer (a blank pipeline per language, no
model needed) and a ``Matcher`` finds numbers by token patterns: a card is one
token of 13–19 digits or 4-digit groups (also the 4-6-5 / 4-6-4 layouts of
Amex and Diners) joined by spaces or dashes; an ID is one 9-digit token (or
8 digits, a dash and the check digit). Working on tokens keeps e-mail
addresses (one token), 6-digit order numbers and phone numbers (``050-1234567``,
``+972 50 123 4567``: the first group is never 4 digits, the total never 13)
readable.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any, Dict, List, Tuple

import spacy
from spacy.language import Language
from spacy.matcher import Matcher
from spacy.util import filter_spans

__all__ = ["MASK", "mask_card", "mask_id", "mask_sensitive"]

MASK = "•"

# A number may carry a Hebrew prefix letter glued to it ("ל-123456789",
# "ו4580...") or a label ending in a colon ("id:123456789"); the tokenizer
# keeps those in one token.
_PREFIX = r"(?:[ובכלמשה]{1,3}[-־]?|[A-Za-z\u05d0-\u05ea]+:)?"
# Between groups: a dash, or spaces with at most one line break (a number wrapped by a mail client).
_SEP: Dict[str, Any] = {"TEXT": {"REGEX": r"^(?:-|–|־|[ \t]*\n?[ \t]*)$"}, "OP": "?"}


def _digits(count: str, prefix: bool = False) -> Dict[str, Any]:
    return {"TEXT": {"REGEX": rf"^{_PREFIX if prefix else ''}\d{{{count}}}$"}, "LIKE_EMAIL": False}


_CARD_PATTERNS: List[List[Dict[str, Any]]] = [
    [_digits("13,19", prefix=True)],
    # 4-4-4-x: 13 (4-4-4-1) up to 19 (4-4-4-4-3) digits; the total is checked after matching.
    [_digits("4", True), _SEP, _digits("4"), _SEP, _digits("4"), _SEP, _digits("1,4")],
    [_digits("4", True), _SEP, _digits("4"), _SEP, _digits("4"), _SEP, _digits("4"), _SEP, _digits("1,3")],
    [_digits("4", True), _SEP, _digits("6"), _SEP, _digits("4,5")],  # Amex 4-6-5, Diners 4-6-4
]
_ID_PATTERNS: List[List[Dict[str, Any]]] = [
    [_digits("9", prefix=True)],
    [_digits("8", prefix=True), {"ORTH": "-"}, _digits("1")],
]


@lru_cache(maxsize=8)
def _pipeline(language: str) -> Tuple[Language, Matcher]:
    try:
        nlp = spacy.blank(language)
    except (ImportError, KeyError, ValueError):
        nlp = spacy.blank("xx")
    matcher = Matcher(nlp.vocab)
    matcher.add("CARD", _CARD_PATTERNS, greedy="LONGEST")
    matcher.add("ISRAELI_ID", _ID_PATTERNS, greedy="LONGEST")
    return nlp, matcher


def mask_card(number: str) -> str:
    """The masked form of a card number: ``•••• •••• •••• 1234``."""
    digits = re.sub(r"\D", "", number)
    return f"{MASK * 4} {MASK * 4} {MASK * 4} {digits[-4:]}"


def mask_id(number: str) -> str:
    """The masked form of an ID number: every digit but the last 2 hidden."""
    digits = re.sub(r"\D", "", number)
    return MASK * (len(digits) - 2) + digits[-2:]


def mask_sensitive(text: str, language: str) -> str:
    """Masks payment-card and Israeli ID numbers in ``text``.

    Args:
        text: Any text meant for a customer (plain text, not HTML).
        language: ``he`` or ``en``; picks the tokenizer (another code falls back
            to spaCy's multi-language one).

    Returns:
        The text with each card number shown as ``•••• •••• •••• 1234`` and each
        ID number as ``•••••••89``; everything else unchanged, spacing included.
    """
    if not text or not any(ch.isdigit() for ch in text):
        return text
    nlp, matcher = _pipeline(language)
    doc = nlp.make_doc(text)
    spans = []
    for match_id, start, end in matcher(doc):
        span = doc[start:end]
        label = nlp.vocab.strings[match_id]
        count = sum(ch.isdigit() for ch in span.text)
        if label == "CARD" and not 13 <= count <= 19:
            continue
        spans.append(doc.char_span(span.start_char, span.end_char, label=label))
    out: List[str] = []
    last = 0
    for span in sorted(filter_spans([s for s in spans if s is not None]), key=lambda s: s.start_char):
        # Keep a glued prefix ("ל-", "id:") and mask from the first digit on.
        first_digit = next(i for i, ch in enumerate(span.text) if ch.isdigit())
        number = span.text[first_digit:]
        out.append(text[last : span.start_char + first_digit])
        out.append(mask_card(number) if span.label_ == "CARD" else mask_id(number))
        last = span.end_char
    out.append(text[last:])
    return "".join(out)
