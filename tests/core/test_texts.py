"""The text catalog: every key in both languages, the same arguments, plurals that read right."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from core.texts import TextCatalog, TextError, format_text
from tests.helpers.texts import catalog


def _write(folder: Path, body: str, name: str = "t.yml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(body, encoding="utf-8")
    return folder


def test_the_project_catalog_has_no_problems():
    assert [f"{entry.path.name}:{entry.line}: {problem}" for entry, problem in catalog().problems()] == []


def test_hebrew_counts_take_their_plural_forms():
    text = "{remaining, plural, one {נותר ניסיון אחד} two {נותרו שני ניסיונות} other {נותרו # ניסיונות}}"
    assert format_text(text, "he", remaining=1) == "נותר ניסיון אחד"
    assert format_text(text, "he", remaining=2) == "נותרו שני ניסיונות"
    assert format_text(text, "he", remaining=5) == "נותרו 5 ניסיונות"
    english = "{n, plural, =0 {no tries} one {# try} other {# tries}} left"
    assert [format_text(english, "en", n=n) for n in (0, 1, 2)] == ["no tries left", "1 try left", "2 tries left"]


def test_the_real_messages_never_say_one_attempts_or_one_minutes():
    texts = catalog()
    for language in ("he", "en"):
        for count in (1, 2, 3, 11):
            said = texts.text("order_not_matched", language, order_id="104233", remaining=count)
            assert not re.search(r"\b1 (ניסיונות|tries)", said), said
            queued = texts.text("queued", language, position=1, minutes=count)
            assert not re.search(r"\b1 (דקות|minutes)", queued), queued
    assert "נותר ניסיון אחד" in texts.text("order_not_matched", "he", order_id="1", remaining=1)
    assert "one more try" in texts.text("order_not_matched", "en", order_id="1", remaining=1)


def test_a_missing_language_or_argument_is_a_problem_found_before_it_reaches_a_customer(tmp_path):
    folder = _write(tmp_path / "texts", """\
texts:
  hello:
    en: "Hello"
  hi:
    en: "Hi {name}"
    he: "היי"
  late:
    en: "{minutes} minutes late"
    he: "{minutes, plural, one {דקה} other {# דקות}} באיחור"
""")
    problems = [p for _, p in TextCatalog.load(folder).problems()]
    assert "'hello' has no 'he' text" in problems
    assert any("'hi': the languages use different arguments" in p for p in problems)
    assert any("'late' [en]: {minutes} is a count" in p for p in problems)


def test_a_missing_value_is_an_error_not_a_broken_message(tmp_path):
    texts = TextCatalog.load(_write(tmp_path / "texts", 'texts:\n  hi:\n    en: "Hi {name}"\n    he: "היי {name}"\n'))
    with pytest.raises(TextError, match="name"):
        texts.text("hi", "en")
    assert texts.text("hi", "he", name="דנה") == "היי דנה"  # a Hebrew value needs no isolate
    assert texts.text("hi", None, name="Dana") == "Hi Dana"
    with pytest.raises(TextError, match="no text 'bye'"):
        texts.text("bye", "en")


def test_a_key_defined_twice_is_refused_with_both_places(tmp_path):
    folder = _write(tmp_path / "texts", 'texts:\n  hi:\n    en: "Hi"\n    he: "היי"\n', "a.yml")
    _write(folder, 'texts:\n  hi:\n    en: "Hey"\n    he: "הי"\n', "b.yml")
    with pytest.raises(TextError, match=r"b\.yml:2: 'hi' is already defined at .*a\.yml:2"):
        TextCatalog.load(folder)


def test_malformed_texts_are_refused_with_the_place():
    with pytest.raises(TextError, match="other"):
        format_text("{n, plural, one {#}}", "en", n=1)
    with pytest.raises(TextError, match="without its"):
        format_text("oops }", "en")


def test_variations_and_buttons_come_from_one_entry(tmp_path):
    texts = TextCatalog.load(_write(tmp_path / "texts", """\
texts:
  offer:
    en:
      text: "Shall I connect you, {name}?"
      buttons:
      - {title: "Yes", payload: "/affirm"}
    he:
      text: "להעביר אותך, {name}?"
      buttons:
      - {title: "כן", payload: "/affirm"}
  thanks:
    en: ["Thanks!", "Thank you!"]
    he: ["תודה!", "תודה רבה!"]
"""), rng=random.Random(1))
    offer = texts.message("offer", "he", name="דנה")
    assert offer.text == "להעביר אותך, דנה?"
    assert offer.dispatcher_kwargs() == {"text": "להעביר אותך, דנה?",
                                         "buttons": [{"title": "כן", "payload": "/affirm"}]}
    assert {texts.text("thanks", "en") for _ in range(20)} == {"Thanks!", "Thank you!"}


def test_every_text_an_action_names_exists():
    keys = set(catalog().keys())
    source = "\n".join(p.read_text() for p in (PROJECT_ROOT / "actions").rglob("*.py"))
    named = set(re.findall(r'(?:say|offer_human)\([^"\n]*"([a-z_]+)"', source))
    named |= {f"order_status_{s}" for s in ("processing", "shipped", "delayed", "delivered", "cancelled", "returned")}
    named |= {f"return_{c}" for c in ("ok", "not_delivered", "window_passed", "already_returned", "open", "cancelled")}
    named |= {f"ask_{s}" for s in ("order_id", "contact", "new_address", "return_reason")}
    assert named and named - keys == set()
