"""What the fuzz tests sent and got, per route, and the table printed at the end of the run.

Each request a fuzz test makes is counted under its route with the class of its
status (2xx, 3xx, 4xx, 5xx). On xdist workers the counts travel to the
controller in ``workeroutput``, which prints one table in the terminal summary,
whatever ``-s`` says. The hooks below are a plugin that ``tests/conftest.py``
loads (``pytest_plugins``): the xdist controller collects no test, so it never
reads ``tests/fuzz/conftest.py``.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from typing import Any, Dict, List, Mapping

import pytest

COUNTS: Dict[str, Counter[str]] = defaultdict(Counter)
CLASSES = ("2xx", "3xx", "4xx", "5xx")


def record(route: str, status: int) -> None:
    """Counts one answer of ``route``."""
    COUNTS[route][f"{status // 100}xx"] += 1


def dumps() -> str:
    """The counts as JSON (for the xdist controller)."""
    return json.dumps({route: dict(counter) for route, counter in COUNTS.items()})


def merge(data: str) -> None:
    """Adds counts another process sent."""
    for route, counter in json.loads(data).items():
        COUNTS[route].update(counter)


def table(counts: Mapping[str, Counter[str]]) -> List[str]:
    """The summary's lines: inputs per route and how many got each class of status."""
    width = max([len(r) for r in counts] + [5])
    lines = [f"{'route':<{width}}  {'inputs':>6}  " + "  ".join(f"{c:>5}" for c in CLASSES)]
    for route in sorted(counts):
        counter = counts[route]
        lines.append(f"{route:<{width}}  {sum(counter.values()):>6}  "
                     + "  ".join(f"{counter.get(c, 0):>5}" for c in CLASSES))
    total: Counter[str] = Counter()
    for counter in counts.values():
        total.update(counter)
    lines.append(f"{'all routes':<{width}}  {sum(total.values()):>6}  "
                 + "  ".join(f"{total.get(c, 0):>5}" for c in CLASSES))
    return lines


def pytest_sessionfinish(session: pytest.Session) -> None:
    """On an xdist worker: hands the counts to the controller."""
    output = getattr(session.config, "workeroutput", None)
    if output is not None and COUNTS:
        output["kesher_fuzz"] = dumps()


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """On the xdist controller: adds a worker's counts."""
    data = getattr(node, "workeroutput", {}).get("kesher_fuzz")
    if data:
        merge(data)


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The fuzz run's table: inputs per route and the classes of status they got."""
    if not COUNTS:
        return
    terminalreporter.write_sep("=", "fuzz: inputs per route and status classes")
    for line in table(COUNTS):
        terminalreporter.write_line(line)
