"""The text catalog check: every key in both languages with the same arguments, reported at its file and line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from tests.helpers.writers_project import all_findings, exit_status, findings, line_of, only, replace, write

ACTIONS = "data/texts/actions.yml"
CANNED = "data/texts/canned.yml"


def test_a_key_without_its_hebrew_text_fails_with_its_file_and_line(project: Path,
                                                                     capsys: pytest.CaptureFixture[str]):
    texts = project / ACTIONS
    replace(texts, '    he: "לא מצאתי את הזמנה {order_id}."\n', "")
    finding = only(project, "missing-language-variation")
    assert (finding.severity, finding.path, finding.line) == ("error", ACTIONS, line_of(texts, "not_found:"))
    assert "text `not_found` has no Hebrew text" in finding.message
    assert f'add `he: "..."` under `not_found` in {ACTIONS}' in finding.message
    assert exit_status(project) == 1
    assert f"{ACTIONS}:{finding.line}: error [missing-language-variation] " in capsys.readouterr().out


def test_arguments_that_differ_between_the_languages_fail(project: Path):
    texts = project / ACTIONS
    replace(texts, '"לא מצאתי את הזמנה {order_id}."', '"לא מצאתי את ההזמנה {order}."')
    finding = only(project, "placeholder-mismatch")
    assert (finding.severity, finding.path, finding.line) == ("error", ACTIONS, line_of(texts, "not_found:"))
    assert "text `not_found` fills in different {names} in Hebrew and English (Hebrew: {order}; English: " \
           "{order_id})" in finding.message
    assert exit_status(project) == 1


def test_the_command_fails_on_a_broken_key(project: Path):
    """`python -m kesher check-content` itself (as `make check-content` runs it) exits 1 and names the place."""
    texts = project / CANNED
    replace(texts, '      text: "Hi, this is {agent} from customer service."\n',
            '      text: "Hi, this is {name} from customer service."\n')
    done = subprocess.run([sys.executable, "-m", "kesher", "check-content", "--project", str(project), "--skip-rasa"],
                          cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines()[0].startswith(
        f"{CANNED}:{line_of(texts, 'canned_hi:')}: error [placeholder-mismatch] canned reply `/hi`")
    assert done.stdout.splitlines()[-1] == "content check: 1 errors, 0 warnings"


def test_a_canned_reply_without_its_english_text(project: Path):
    texts = project / CANNED
    replace(texts, '    en:\n      title: "Greeting"\n      text: "Hi, this is {agent} from customer service."\n', "")
    finding = only(project, "missing-language-variation")
    assert (finding.path, finding.line) == (CANNED, line_of(texts, "canned_hi:"))
    assert "canned reply `/hi` has no English text" in finding.message
    assert exit_status(project) == 1


def test_a_canned_reply_titled_in_english_for_the_hebrew_console_is_an_error(project: Path):
    texts = project / CANNED
    replace(texts, 'title: "ברכה"', 'title: "Greeting"')
    finding = only(project, "missing-language-variation")
    assert (finding.severity, finding.path) == ("error", CANNED)
    assert "the title of canned reply `/hi`" in finding.message and "no Hebrew letters" in finding.message
    assert exit_status(project) == 1


def test_a_hebrew_text_written_in_english_is_an_error(project: Path):
    texts = project / ACTIONS
    replace(texts, '"לא מצאתי את הזמנה {order_id}."', '"Could not find {order_id}."')
    finding = only(project, "missing-language-variation")
    assert (finding.severity, finding.line) == ("error", line_of(texts, "Could not find"))
    assert "Hebrew text of text `not_found` has no Hebrew letters" in finding.message


def test_a_text_with_only_arguments_has_no_language_to_check(project: Path):
    replace(project / ACTIONS, '"לא מצאתי את הזמנה {order_id}."', '"{order_id}?"')
    assert findings(project, "missing-language-variation") == []


def test_hebrew_in_an_english_text_and_button_is_a_warning(project: Path):
    texts = project / ACTIONS
    replace(texts, '{title: "Yes", payload: "/affirm"}', '{title: "כן", payload: "/affirm"}')
    finding = only(project, "missing-language-variation")
    assert (finding.severity, finding.line) == ("warning", line_of(texts, '{title: "כן"'))
    assert "English button" in finding.message and "`offer_human`" in finding.message
    assert exit_status(project) == 0


def test_an_empty_text_is_an_error_at_its_line(project: Path):
    texts = project / ACTIONS
    replace(texts, '"להעביר אותך לנציג?"', '""')
    finding = only(project, "empty-text")
    assert (finding.path, finding.line) == (ACTIONS, line_of(texts, 'text: ""'))
    assert "Hebrew text of text `offer_human` is empty" in finding.message
    assert exit_status(project) == 1


def test_a_language_with_no_value_is_reported_not_a_crash(project: Path):
    texts = project / ACTIONS
    replace(texts, '    he: "לא מצאתי את הזמנה {order_id}."\n', "    he:\n")
    finding = only(project, "empty-text")
    assert finding.line == line_of(texts, "    he:", 1)
    assert "Hebrew text of text `not_found` is empty" in finding.message


def test_a_count_must_be_a_plural(project: Path):
    texts = project / ACTIONS
    replace(texts, '"About {minutes, plural, one {a minute} other {# minutes}}."', '"About {minutes} minutes."')
    finding = only(project, "text-plural")
    assert (finding.severity, finding.line) == ("error", line_of(texts, '"About {minutes} minutes."'))
    assert "`{minutes, plural, one {...} other {# ...}}`" in finding.message


def test_a_malformed_text_is_reported_at_its_language(project: Path):
    texts = project / ACTIONS
    replace(texts, '"לא מצאתי את הזמנה {order_id}."', '"לא מצאתי את הזמנה {order_id."')
    found = findings(project, "text-format")
    assert [(f.severity, f.line) for f in found] == [("error", line_of(texts, "{order_id.\""))]
    assert "Hebrew text of text `not_found` cannot be read" in found[0].message


def test_buttons_must_send_the_same_payloads(project: Path):
    replace(project / ACTIONS, '{title: "כן", payload: "/affirm"}', '{title: "כן", payload: "/deny"}')
    finding = only(project, "buttons-differ")
    assert (finding.severity, finding.line) == ("error", line_of(project / ACTIONS, "offer_human:"))


def test_a_language_kesher_does_not_speak(project: Path):
    texts = project / ACTIONS
    replace(texts, '    en: "I couldn\'t find order {order_id}."\n',
            '    en: "I couldn\'t find order {order_id}."\n    fr: "Commande {order_id} introuvable."\n')
    finding = only(project, "text-format")
    assert finding.line == line_of(texts, "    fr:")
    assert "`fr`" in finding.message


def test_a_key_defined_twice_names_both_places(project: Path):
    texts = project / ACTIONS
    write(project, "data/texts/more.yml", 'texts:\n  wait:\n    en: "Wait"\n    he: "חכו"\n')
    found = all_findings(project)
    assert [(f.kind, f.path, f.line) for f in found] == [("duplicate-message", "data/texts/more.yml", 2)]
    assert f"also defined in {ACTIONS}:{line_of(texts, 'wait:')}" in found[0].message


def test_a_file_without_texts(project: Path):
    write(project, "data/texts/more.yml", "messages:\n  hi: hello\n")
    finding = only(project, "text-format")
    assert (finding.path, finding.line) == ("data/texts/more.yml", 1)
    assert "`texts:` mapping" in finding.message


def test_a_canned_shortcut_agents_cannot_type(project: Path):
    texts = project / CANNED
    replace(texts, "  canned_hi:\n", "  canned_Hi there:\n")
    finding = only(project, "canned-reply")
    assert (finding.severity, finding.line) == ("error", line_of(texts, "canned_Hi there:"))
    assert "the agent console does not start" in finding.message


def test_a_canned_reply_without_a_title_is_a_warning(project: Path):
    texts = project / CANNED
    replace(texts, '      title: "Greeting"\n', "")
    finding = only(project, "canned-reply")
    assert (finding.severity, finding.line) == ("warning", line_of(texts, "    en:"))
    assert exit_status(project) == 0
