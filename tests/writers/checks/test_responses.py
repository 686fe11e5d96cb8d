"""A domain response in both languages, really written in each; placeholders and buttons alike (warnings)."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.writers_project import HE_CONDITION, all_findings, exit_status, line_of, only, replace


def test_a_response_without_its_hebrew_text(project: Path):
    core = project / "domain/core.yml"
    replace(core, '  - text: "הזמנה {order_id} בדרך אליך."\n' + HE_CONDITION, "")
    finding = only(project, "missing-language-variation")
    assert (finding.severity, finding.path) == ("error", "domain/core.yml")
    assert finding.line == line_of(core, "utter_order_status:")
    assert "`utter_order_status` has no Hebrew text" in finding.message
    assert "value: he" in finding.message
    assert exit_status(project) == 1


def test_a_response_without_its_english_text(project: Path):
    faq = project / "domain/faq.yml"
    replace(faq, '  - text: "You can return items within 30 days."\n', "")
    finding = only(project, "missing-language-variation")
    assert finding.line == line_of(faq, "utter_faq/returns:")
    assert "`utter_faq/returns` has no English text" in finding.message
    assert "no `condition:`" in finding.message


def test_a_hebrew_text_written_in_english_is_an_error(project: Path):
    core = project / "domain/core.yml"
    replace(core, '"הזמנה {order_id} בדרך אליך."', '"Order {order_id} is coming."')
    finding = only(project, "missing-language-variation")
    assert (finding.severity, finding.line) == ("error", line_of(core, "Order {order_id} is coming."))
    assert "Hebrew text of response `utter_order_status` has no Hebrew letters" in finding.message
    assert "write it in Hebrew" in finding.message


def test_hebrew_in_an_english_text_is_only_a_warning(project: Path):
    core = project / "domain/core.yml"
    replace(core, '"Order {order_id} is on its way."', '"Order {order_id} בדרך."')
    finding = only(project, "missing-language-variation")
    assert (finding.severity, finding.line) == ("warning", line_of(core, "Order {order_id} בדרך."))
    assert "English text of response `utter_order_status` contains Hebrew" in finding.message
    assert exit_status(project) == 0


def test_an_empty_response_text_is_an_error(project: Path):
    core = project / "domain/core.yml"
    replace(core, '"Order {order_id} is on its way."', '""')
    finding = only(project, "empty-text")
    assert (finding.severity, finding.line) == ("error", line_of(core, '- text: ""'))
    assert "English text of response `utter_order_status` is empty" in finding.message


def test_placeholders_and_buttons_that_differ_are_warnings(project: Path):
    replace(project / "domain/core.yml", '"הזמנה {order_id} בדרך אליך."', '"ההזמנה בדרך אליך."')
    replace(project / "domain/core.yml", "      payload: /order_status", "      payload: /greet", count=1)
    found = all_findings(project)
    assert {(f.kind, f.severity) for f in found} == {("placeholder-mismatch", "warning"), ("buttons-differ", "warning")}
    mismatch = next(f for f in found if f.kind == "placeholder-mismatch")
    assert "response `utter_order_status`" in mismatch.message and "Hebrew (none) and English ({order_id})" \
        in mismatch.message
    assert "response `utter_greet`" in next(f for f in found if f.kind == "buttons-differ").message
    assert exit_status(project) == 0
