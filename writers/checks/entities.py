"""``unknown-entity``: the entities marked in examples (``[text](entity)``) are in the domain."""

from __future__ import annotations

from typing import List

from writers.checks.base import ERROR, Finding, Options, quote
from writers.project import Project, entity_names

__all__ = ["check_entities"]


def check_entities(project: Project, options: Options) -> List[Finding]:
    """``unknown-entity``: entities marked in examples (``[text](entity)``) are in the domain."""
    entities = project.domain.entities
    findings: List[Finding] = []
    for block in project.intent_blocks:
        for example in block.examples:
            for name in entity_names(example.text):
                if name in entities:
                    continue
                listed = ", ".join(f"`{e}`" for e in entities) or "none yet"
                findings.append(Finding(
                    "unknown-entity", ERROR, block.path, example.line,
                    f"the example {quote(example.text)} marks the entity `{name}`, which is not in the domain "
                    f"(its entities: {listed}); fix the name, or ask a developer to add `- {name}` under "
                    f"`entities:` in {project.domain.file_for('entities')}",
                ))
    return findings
