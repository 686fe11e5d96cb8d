"""``bad-regex``: a regular expression of the NLU data that does not compile is reported at its line."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.writers_project import exit_status, findings, line_of, only, write

PATTERNS = """\
    version: "3.1"
    nlu:
    - regex: order_id
      examples: |
        - \\b\\d{6}\\b
        - [0-9{6}
    """


def test_a_pattern_that_does_not_compile(project: Path):
    path = write(project, "data/nlu/entities.yml", PATTERNS)
    finding = only(project, "bad-regex")
    assert (finding.severity, finding.path, finding.line) == ("error", "data/nlu/entities.yml",
                                                              line_of(path, "[0-9{6}"))
    assert "the pattern for `order_id` is not a valid regular expression" in finding.message
    assert exit_status(project) == 1


def test_valid_patterns_pass(project: Path):
    write(project, "data/nlu/entities.yml", PATTERNS.replace("[0-9{6}", "[0-9]{6}"))
    assert findings(project, "bad-regex") == []
