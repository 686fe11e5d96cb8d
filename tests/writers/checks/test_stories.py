"""``unknown-in-story``: every name a story or rule uses is in the domain, reported at its step."""

from __future__ import annotations

import textwrap
from pathlib import Path

from tests.helpers.writers_project import exit_status, findings, line_of


def test_names_a_story_or_rule_uses_must_be_in_the_domain(project: Path):
    rules = project / "data/rules/basics.yml"
    rules.write_text(rules.read_text(encoding="utf-8") + textwrap.dedent("""\

        - rule: broken
          condition:
          - active_loop: order_form
          steps:
          - intent: gret
          - action: utter_nope
          - action: action_nope
          - slot_was_set:
            - order_idd: "1"
          - or:
            - intent: greet
            - intent: thnx
          - action: action_listen
        """), encoding="utf-8")
    found = findings(project, "unknown-in-story")
    assert [(f.path, f.line) for f in found] == [
        ("data/rules/basics.yml", line_of(rules, "active_loop: order_form")),
        ("data/rules/basics.yml", line_of(rules, "intent: gret")),
        ("data/rules/basics.yml", line_of(rules, "action: utter_nope")),
        ("data/rules/basics.yml", line_of(rules, "action: action_nope")),
        ("data/rules/basics.yml", line_of(rules, "order_idd")),
        ("data/rules/basics.yml", line_of(rules, "intent: thnx")),
    ]
    form, intent, response, action, slot, alternative = (f.message for f in found)
    assert "rule `broken` uses the form (`active_loop:`) `order_form`" in form
    assert "the intent `gret`, which is not in the domain" in intent and "`intents:` in domain/core.yml" in intent
    assert "the response `utter_nope`" in response and "`responses:` in domain/core.yml" in response
    assert "the action `action_nope`" in action and "`actions:`" in action
    assert "the slot `order_idd`" in slot and "`slots:`" in slot
    assert "the intent `thnx`" in alternative
    assert exit_status(project) == 1
