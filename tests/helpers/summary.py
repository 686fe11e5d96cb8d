"""Tables a test asks to have printed at the end of the run, whether or not output is captured.

A test calls ``record_property(SUMMARY, text)``. The property travels with the test's
report, so on xdist workers it reaches the controller too, which prints every such text
in the terminal summary under the test's id (``make test`` runs the stack tests on two
workers without ``-s``; the fault test's counts would otherwise be captured and lost).
"""

from __future__ import annotations

from typing import Any, List, Tuple

import pytest

SUMMARY = "kesher_summary"

_TEXTS: List[Tuple[str, str]] = []


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    """Keeps the summaries a test recorded (on the controller: as each worker's report arrives)."""
    if report.when == "call":
        _TEXTS.extend((report.nodeid, str(value)) for name, value in report.user_properties if name == SUMMARY)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Prints the kept summaries, one section for all."""
    if _TEXTS:
        terminalreporter.section("figures the tests recorded")
        for nodeid, text in _TEXTS:
            terminalreporter.write_line(nodeid)
            terminalreporter.write_line(text)
