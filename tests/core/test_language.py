"""Language detection: Hebrew script decides; neutral tokens keep the language."""

from __future__ import annotations

import pytest

from core.language import detect_language


@pytest.mark.parametrize(
    ("text", "previous", "expected"),
    [
        ("איפה ההזמנה שלי?", None, "he"),
        ("where is my order?", None, "en"),
        ("where is my order?", "he", "en"),
        ("hi, איפה ההזמנה 104233?", "en", "he"),
        ("104233", "he", "he"),
        ("#104233", "en", "en"),
        ("dana.levi@example.com", "he", "he"),
        ("052-555-1234", "he", "he"),
        ("😀😀😀", "he", "he"),
        ("😀😀😀", None, None),
        ("", "en", "en"),
        ("ok", "he", "he"),
        ("ok thanks", "he", "en"),
        ("KS-104233", "he", "he"),
        ("https://shop.example.com/he/help", "he", "he"),
    ],
)
def test_detect_language(text, previous, expected):
    assert detect_language(text, previous) == expected
