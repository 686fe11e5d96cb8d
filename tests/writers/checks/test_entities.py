"""``unknown-entity``: an entity marked in an example is in the domain."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.writers_project import exit_status, line_of, only, replace


def test_entities_marked_in_examples_must_be_in_the_domain(project: Path):
    en_core = project / "data/nlu/en/core.yml"
    replace(en_core, "    - where is my order number 3\n", "    - where is order [654321](ordr_id) now\n")
    finding = only(project, "unknown-entity")
    assert (finding.severity, finding.path, finding.line) == ("error", "data/nlu/en/core.yml",
                                                              line_of(en_core, "(ordr_id)"))
    assert "the entity `ordr_id`, which is not in the domain" in finding.message
    assert "`order_id`" in finding.message
    assert exit_status(project) == 1


def test_entities_in_json_annotations_are_checked_too(project: Path):
    he_core = project / "data/nlu/he/core.yml"
    replace(he_core, "    - איפה ההזמנה שלי מספר 3\n", '    - איפה [654321]{"entity": "order_number"}\n')
    finding = only(project, "unknown-entity")
    assert finding.line == line_of(he_core, "order_number")
    assert "`order_number`" in finding.message
