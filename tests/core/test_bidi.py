"""Isolates and marks: what a Hebrew text does with a name, a reference, an address or a number put into it."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.bidi import FSI, PDI, RLM, direction, isolate, rtl_lines, strip_controls, with_marks
from core.texts import TextCatalog, format_text


@pytest.mark.parametrize("value", ["Dana", "K-D901A7", "noa@example.com", "050-1234567", "3", "iPhone 15"])
def test_what_can_turn_a_hebrew_line_around_is_isolated(value: str) -> None:
    assert format_text("שלום {x}.", "he", x=value) == f"שלום {FSI}{value}{PDI}."
    assert format_text("Hello {x}.", "en", x=value) == f"Hello {value}."  # English needs none


def test_hebrew_values_and_blocks_are_left_alone() -> None:
    assert format_text("שלום {x}.", "he", x="נועה כהן") == "שלום נועה כהן."
    assert isolate("line one\nline two") == "line one\nline two"  # a block, not a word in a sentence
    assert isolate(isolate("Dana")) == f"{FSI}Dana{PDI}"


def test_the_catalog_isolates_in_every_entry_and_plural(tmp_path: Path) -> None:
    (tmp_path / "t.yml").write_text(
        'texts:\n  joined:\n    en: "{agent} joined ({n, plural, one {# chat} other {# chats}})"\n'
        '    he: "{agent} הצטרפה ({n, plural, one {שיחה אחת} other {# שיחות}})"\n', encoding="utf-8")
    texts = TextCatalog.load(tmp_path)
    assert texts.text("joined", "he", agent="Dana", n=3) == f"{FSI}Dana{PDI} הצטרפה (3 שיחות)"
    assert texts.text("joined", "en", agent="Dana", n=3) == "Dana joined (3 chats)"


def test_direction_comes_from_the_language_not_the_first_letter() -> None:
    assert direction("Dana כאן, איך אפשר לעזור?") == "rtl"
    assert direction("Dana here") == "ltr"
    assert direction("Dana", "he") == "rtl" and direction("שלום", "en") == "ltr"


def test_chat_apps_get_marks_and_plain_text_mails_a_mark_on_each_line() -> None:
    text = f"{FSI}Dana{PDI} מהצוות שלנו בשיחה עכשיו.\n\nהפנייה: {FSI}K-D901A7{PDI}"
    assert with_marks(text) == f"{RLM}Dana{RLM} מהצוות שלנו בשיחה עכשיו.\n\n{RLM}הפנייה: {RLM}K-D901A7{RLM}"
    assert with_marks(f"Order {FSI}K-1{PDI}", "en") == "Order K-1"
    assert rtl_lines("Dana:\n\nשלום") == f"{RLM}Dana:\n\n{RLM}שלום"
    assert strip_controls(with_marks(text)) == strip_controls(text)
