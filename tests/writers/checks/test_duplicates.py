"""``duplicate-example``: a sentence under two intents is an error, twice under one a warning."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.writers_project import exit_status, line_of, only, replace


def test_one_sentence_under_two_intents(project: Path):
    en_core = project / "data/nlu/en/core.yml"
    replace(en_core, "    - where is my order number 5\n", "    - Hello   There 3?\n")
    finding = only(project, "duplicate-example")
    first, second = line_of(en_core, "- hello there 3"), line_of(en_core, "- Hello   There 3?")
    assert (finding.severity, finding.path, finding.line) == ("error", "data/nlu/en/core.yml", second)
    assert f"`greet` (data/nlu/en/core.yml:{first}) and `order_status` (here)" in finding.message
    assert "delete or reword" in finding.message
    assert exit_status(project) == 1


def test_one_sentence_twice_under_one_intent_is_a_warning(project: Path):
    he_core = project / "data/nlu/he/core.yml"
    replace(he_core, "    - איפה ההזמנה שלי מספר 7\n", "    - איפה הזמנה [123456](order_id)!\n")
    finding = only(project, "duplicate-example")
    assert (finding.severity, finding.line) == ("warning", line_of(he_core, "(order_id)!"))
    assert "twice under `order_status`" in finding.message
    assert f"data/nlu/he/core.yml:{line_of(he_core, '(order_id)')}" in finding.message
    assert exit_status(project) == 0
