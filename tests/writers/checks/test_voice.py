"""One voice in Hebrew: slash forms, a Latin first word and a bare brand are errors in the catalog, the responses
and the Hebrew help-centre articles."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from tests.helpers.writers_project import all_findings, exit_status, findings, line_of, only, replace
from writers.checks.base import Options
from writers.checks.voice import bare_brand, check_voice, latin_start, slash_forms
from writers.project import Project

ACTIONS = "data/texts/actions.yml"
CANNED = "data/texts/canned.yml"
ARTICLE = "data/kb/he/gift-wrapping.md"


def test_a_slash_form_in_a_catalog_text_fails_at_its_line(project: Path):
    texts = project / ACTIONS
    replace(texts, '"לא מצאתי את הזמנה {order_id}."', '"את/ה יכול/ה לכתוב שוב את {order_id}."')
    found = findings(project, "hebrew-slash-form")
    assert [(f.severity, f.path, f.line) for f in found] == [("error", ACTIONS, line_of(texts, "את/ה"))] * 2
    assert '"את/ה"' in found[0].message and '"יכול/ה"' in found[1].message
    assert "text `not_found`" in found[0].message and "plural or the infinitive" in found[0].message
    assert exit_status(project) == 1


def test_a_slash_form_in_a_response_and_in_a_canned_title_fails(project: Path):
    core = project / "domain/core.yml"
    replace(core, '"הזמנה {order_id} בדרך אליך."', '"כתוב/כתבי את מספר ההזמנה {order_id}."')
    replace(project / CANNED, 'title: "ברכה"', 'title: "בודק/ת"')
    found = findings(project, "hebrew-slash-form")
    assert {(f.path, f.line) for f in found} == {
        ("domain/core.yml", line_of(core, "כתוב/כתבי")), (CANNED, line_of(project / CANNED, "בודק/ת"))}
    assert any("response `utter_order_status`" in f.message and '"כתוב/כתבי"' in f.message for f in found)


def test_a_hebrew_text_starting_with_a_latin_word_fails(project: Path):
    faq = project / "domain/faq.yml"
    replace(faq, '"אפשר להחזיר מוצרים תוך 30 יום."', '"Kesher Shop מאפשרת להחזיר מוצרים תוך 30 יום."')
    finding = only(project, "hebrew-starts-latin")
    assert (finding.severity, finding.path, finding.line) == ("error", "domain/faq.yml",
                                                              line_of(faq, "Kesher Shop מאפשרת"))
    assert 'starts with the Latin word "Kesher"' in finding.message
    assert "response `utter_faq/returns`" in finding.message
    assert exit_status(project) == 1


def test_a_latin_word_after_punctuation_or_a_mark_still_counts(project: Path):
    texts = project / ACTIONS
    replace(texts, '"לא מצאתי את הזמנה {order_id}."', '"\u200f— Israel Post לא מצאה את {order_id}."')
    assert 'the Latin word "Israel"' in only(project, "hebrew-starts-latin").message


def test_a_name_in_a_placeholder_first_and_latin_inside_pass(project: Path):
    texts = project / ACTIONS
    replace(texts, '"לא מצאתי את הזמנה {order_id}."', '"{order_id}: לא מצאתי אותה ב-PayPal, ו/או בכרטיס."')
    assert [f for f in all_findings(project) if f.kind.startswith("hebrew-")] == []


def test_a_hebrew_article_is_checked_line_by_line_title_included(project: Path):
    article = project / ARTICLE
    replace(article, "title: עטיפת מתנה", "title: עטיפת מתנה של קשר")
    replace(article, "אפשר להוסיף עטיפת מתנה בקופה ב-15 ש״ח לפריט.",
            "אפשר להוסיף עטיפת מתנה בקופה ב-15 ש״ח לפריט.\n\n- SMS נשלח כשהמתנה יוצאת.\n"
            "את/ה יכול/ה לצרף ברכה. לשאלות אפשר ליצור קשר עם Kesher Shop.")
    found = [f for f in all_findings(project) if f.kind.startswith("hebrew-")]
    assert sorted((f.kind, f.path, f.line) for f in found) == sorted([
        ("hebrew-bare-brand", ARTICLE, line_of(article, "title:")),
        ("hebrew-starts-latin", ARTICLE, line_of(article, "- SMS")),
        ("hebrew-slash-form", ARTICLE, line_of(article, "את/ה")),
        ("hebrew-slash-form", ARTICLE, line_of(article, "את/ה")),
        ("hebrew-bare-brand", ARTICLE, line_of(article, "Kesher Shop")),
    ])
    title = next(f for f in found if f.line == line_of(article, "title:"))
    assert "article `gift-wrapping`" in title.message and '"של קשר"' in title.message
    assert "חנות קשר" in title.message
    assert exit_status(project) == 1


def test_a_bare_brand_in_a_catalog_text_fails(project: Path):
    texts = project / ACTIONS
    replace(texts, '"לא מצאתי את הזמנה {order_id}."', '"צוות קשר לא מצא את הזמנה {order_id}."')
    finding = only(project, "hebrew-bare-brand")
    assert (finding.path, finding.line) == (ACTIONS, line_of(texts, "צוות קשר"))
    assert "{brand}" in finding.message


@pytest.mark.parametrize(("text", "names"), [
    ("מועדון הלקוחות של קשר", ["של קשר"]),
    ("צוות קשר", ["צוות קשר"]),
    ("ברוכים הבאים ל-Kesher Shop", ["Kesher Shop"]),
    ("מועדון הלקוחות של חנות קשר", []),
    ("הצוות של {brand}", []),
    ("הטבות של מועדון קשר", []),
    ("השליח ייצור קשר, או דרך טופס יצירת הקשר", []),
    ("בלי קשר לגודל", []),
])
def test_bare_brand(text: str, names: list):
    assert bare_brand(text) == names


@pytest.mark.parametrize(("text", "forms"), [
    ("את/ה במקום 3", ["את/ה"]),
    ("כל מה שתכתב/י כאן", ["שתכתב/י"]),
    ("אני כבר בודק / ת", ["בודק / ת"]),
    ("ו/או", []),
    ("ב-1/2 מהמקרים", []),
    ("{agent}/{team}", []),
    ("https://shop.example.com/he/help", []),
])
def test_slash_forms(text: str, forms: list):
    assert slash_forms(text) == forms


@pytest.mark.parametrize(("text", "word"), [
    ("Kesher Shop שמחה", "Kesher"),
    ("  \u200f«SMS» נשלח", "SMS"),
    ("{agent} מהצוות", None),
    ("3 x מוצרים", None),
    ("שלום, Kesher", None),
])
def test_latin_start(text: str, word: str):
    assert latin_start(text) == word


def test_the_real_catalog_responses_and_articles_speak_with_one_voice():
    found = check_voice(Project(PROJECT_ROOT), Options())
    assert found == [], "\n".join(map(str, found))
