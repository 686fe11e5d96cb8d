"""Rasa's own validation: its messages at the file and line they are about, its known warning dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.writers_project import line_of, replace
from writers.checks.rasa import KNOWN_RASA_WARNING, rasa_messages
from writers.content_check import main


def test_rasa_validate_errors_are_reported(project: Path, capsys: pytest.CaptureFixture[str]):
    stories = project / "data/stories/orders.yml"
    replace(stories, "  - intent: order_status\n", "  - intent: order_statuss\n")
    assert main(["--project", str(project)]) == 1
    out = capsys.readouterr().out
    rasa = [line for line in out.splitlines() if "[rasa]" in line]
    assert rasa, out
    assert any(line.startswith(f"data/stories/orders.yml:{line_of(stories, 'order_statuss')}: error [rasa]")
               and "order_statuss" in line for line in rasa), out
    assert KNOWN_RASA_WARNING not in out


def test_rasa_output_parsing_drops_the_known_warning():
    output = (
        "\x1b[93m/x/rasa/shared/utils/io.py:100: UserWarning: " + KNOWN_RASA_WARNING + "\n"
        "  More info at https://rasa.com/docs/rasa/domain\n"
        "\x1b[0m\x1b[93m/x/rasa/shared/utils/io.py:100: UserWarning: Issue found in 'data/rules/a.yml': \n"
        "Found intent 'gret' in stories which is not part of the domain.\n"
        "  More info at https://rasa.com/docs/rasa/stories\n"
        "\x1b[0m2026-01-01 10:00:00 INFO     rasa.validator  - Validating intents...\n"
        "2026-01-01 10:00:00 ERROR    rasa.validator  - Story structure conflict after intent 'x':\n"
        "  utter_a predicted in 'one'\n"
        "\x1b[91mProject validation completed with errors.\x1b[0m\n"
    )
    assert rasa_messages(output) == [
        "Issue found in 'data/rules/a.yml': Found intent 'gret' in stories which is not part of the domain.",
        "Story structure conflict after intent 'x': utter_a predicted in 'one'",
    ]
