"""``bad-regex``: the NLU data's regular expressions compile."""

from __future__ import annotations

import re
from typing import List, Mapping

from writers.checks.base import ERROR, Finding, Options
from writers.project import Project, examples_of, item_line

__all__ = ["check_regexes"]


def check_regexes(project: Project, options: Options) -> List[Finding]:
    """``bad-regex``: the NLU data's regular expressions compile."""
    findings: List[Finding] = []
    for path in project.data_files("nlu"):
        items = project.yaml(path)["nlu"]
        for index, item in enumerate(items if isinstance(items, list) else []):
            if not (isinstance(item, Mapping) and item.get("regex")):
                continue
            for example in examples_of(item, item_line(items, index)):
                try:
                    re.compile(example.text)
                except re.error as exc:
                    findings.append(Finding(
                        "bad-regex", ERROR, project.rel(path), example.line,
                        f"the pattern for `{item['regex']}` is not a valid regular expression ({exc}); "
                        "ask a developer to fix it",
                    ))
    return findings
