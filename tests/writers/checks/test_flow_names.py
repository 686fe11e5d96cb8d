"""``unnamed-in-flows``: a slot or form a story or rule uses has a plain name for the flow charts (a warning)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from core.settings import PROJECT_ROOT
from tests.helpers.writers_project import exit_status, findings, line_of, replace
from writers.checks.base import Options
from writers.checks.flow_names import check_flow_names
from writers.project import Project


def test_a_slot_or_form_without_a_plain_name_is_a_warning(project: Path):
    (project / "domain/forms.yml").write_text(textwrap.dedent("""\
        version: "3.1"
        slots:
          human_offered:
            type: bool
            influence_conversation: true
            mappings:
            - type: custom
          thing:
            type: text
            influence_conversation: false
            mappings:
            - type: custom
        forms:
          thing_form:
            required_slots: [thing]
        """), encoding="utf-8")
    rules = project / "data/rules/basics.yml"
    rules.write_text(rules.read_text(encoding="utf-8") + textwrap.dedent("""\

        - rule: offered
          condition:
          - slot_was_set:
            - human_offered: true
          - active_loop: thing_form
          steps:
          - intent: greet
          - action: utter_greet
        """), encoding="utf-8")
    found = findings(project, "unnamed-in-flows")
    assert [(f.severity, f.path, f.line) for f in found] == [
        ("warning", "data/rules/basics.yml", line_of(rules, "human_offered: true")),
        ("warning", "data/rules/basics.yml", line_of(rules, "active_loop: thing_form")),
        ("warning", "data/rules/basics.yml", line_of(rules, "active_loop: thing_form")),
    ]
    slot, form, question = (f.message for f in found)
    assert "the slot `human_offered` (rule `offered` uses it) has no English or Hebrew name" in slot
    assert "add `flow_slot_human_offered:` with an `en:` and a `he:`" in slot and "data/texts/flows.yml" in slot
    assert "the form `thing_form` (rule `offered` uses it)" in form and "`flow_form_thing_form:`" in form
    assert "the slot `thing` (the form `thing_form` of rule `offered` asks for it)" in question
    assert exit_status(project) == 0  # a warning, not an error

    # A name in one language only still warns, for the other; in both it is quiet.
    flows = project / "data/texts/flows.yml"
    flows.write_text(flows.read_text(encoding="utf-8") + (
        '  flow_slot_human_offered:\n    en: "the offer of a person"\n'
        '  flow_form_thing_form:\n    en: "the thing"\n    he: "הדבר"\n'
        '  flow_slot_thing:\n    en: "the thing"\n    he: "הדבר"\n'), encoding="utf-8")
    found = findings(project, "unnamed-in-flows")
    assert len(found) == 1 and "`human_offered` (rule `offered` uses it) has no Hebrew name" in found[0].message
    replace(flows, '    en: "the offer of a person"\n', '    en: "the offer of a person"\n    he: "ההצעה לנציג"\n')
    assert findings(project, "unnamed-in-flows") == []


def test_every_slot_and_form_of_the_real_stories_and_rules_has_a_name():
    assert check_flow_names(Project(PROJECT_ROOT), Options()) == []
