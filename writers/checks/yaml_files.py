"""``yaml``: every YAML file of the bot parses, and no mapping has a key twice (Rasa skips or refuses such files)."""

from __future__ import annotations

from typing import List

from writers.checks.base import ERROR, Finding, Options
from writers.project import Project, YamlProblem

__all__ = ["check_yaml"]

SKIPPED = ". The checks that need the domain were skipped until this is fixed"


def _message(problem: YamlProblem) -> str:
    if problem.kind == "encoding":
        return f"this file cannot be read ({problem.detail}); save it as UTF-8 YAML"
    if problem.kind == "duplicate-key":
        return (f"`{problem.detail}` is written twice here (first on line {problem.first_line}); only one of them "
                "can count and Rasa refuses the file: merge the two or rename one")
    return (f"this file is not valid YAML ({problem.detail}), so the bot ignores it; check the indentation, "
            "quotes and brackets on this line and the one before (every item of a list starts with "
            "`- ` at the same indentation; texts with `:` or `#` need quotes)")


def check_yaml(project: Project, options: Options) -> List[Finding]:
    """Every YAML file the bot reads parses (a broken file is silently skipped by Rasa)."""
    for path in project.all_yaml_files():
        project.yaml(path)
    broken_domain = set(project.unreadable_domain_files())
    return [
        Finding("yaml", ERROR, problem.path, problem.line,
                _message(problem) + (SKIPPED if problem.path in broken_domain else ""))
        for problem in project.yaml_problems()
    ]
