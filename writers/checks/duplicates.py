"""``duplicate-example``: one sentence taught for two intents (or twice for one)."""

from __future__ import annotations

from typing import Dict, List, Tuple

from writers.checks.base import ERROR, WARNING, Finding, Options, quote
from writers.project import Loc, Project, normalize_example

__all__ = ["check_duplicates"]


def check_duplicates(project: Project, options: Options) -> List[Finding]:
    """``duplicate-example``: one sentence under two intents (error) or twice under one (warning)."""
    findings: List[Finding] = []
    seen: Dict[str, Tuple[str, Loc]] = {}
    for block in project.intent_blocks:
        for example in block.examples:
            key = normalize_example(example.text)
            if not key:
                continue
            if key not in seen:
                seen[key] = (block.intent, Loc(block.path, example.line))
                continue
            intent, first = seen[key]
            if intent == block.intent:
                findings.append(Finding(
                    "duplicate-example", WARNING, block.path, example.line,
                    f"the example {quote(example.text)} is written twice under `{intent}` (also "
                    f"{first.path}:{first.line}); delete one of them",
                ))
            else:
                findings.append(Finding(
                    "duplicate-example", ERROR, block.path, example.line,
                    f"the example {quote(example.text)} is under two intents: `{intent}` ({first.path}:{first.line})"
                    f" and `{block.intent}` (here); the bot cannot learn two meanings for one sentence: keep it under "
                    "the intent it means and delete or reword the other",
                ))
    return findings
