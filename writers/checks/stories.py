"""``unknown-in-story``: stories and rules only name intents, actions, forms, slots and entities the domain has."""

from __future__ import annotations

from typing import List

from rasa.shared.core.constants import DEFAULT_ACTION_NAMES, DEFAULT_INTENTS, DEFAULT_SLOT_NAMES

from writers.checks.base import ERROR, Finding, Options
from writers.project import Domain, Project, StepRef

__all__ = ["check_stories"]


def _fix(domain: Domain, ref: StepRef, name: str) -> str:
    """How to fix an unknown name, by what it names."""
    if ref.what == "intent":
        return (f"fix the name, or add `- {name}` under `intents:` in {domain.file_for('intents')} "
                "(with examples in both languages)")
    if ref.what == "action" and name.startswith("utter_"):
        return (f"fix the name, or add the response `{name}` with an English and a Hebrew text under "
                f"`responses:` in {domain.file_for_response(name)}")
    if ref.what == "action":
        return (f"fix the name, or ask a developer to add `- {name}` under `actions:` in "
                f"{domain.file_for('actions')} and implement it in actions/")
    section = {"form": "forms", "slot": "slots", "entity": "entities"}[ref.what]
    return f"fix the name (the domain's {section} are listed under `{section}:` in {domain.file_for(section)})"


def check_stories(project: Project, options: Options) -> List[Finding]:
    """``unknown-in-story``: stories and rules only use intents, actions, forms, slots and entities of the domain."""
    domain = project.domain
    retrieval_answers = {f"utter_{base}" for base in domain.retrieval_bases()}
    known = {
        "intent": set(domain.intents) | set(DEFAULT_INTENTS),
        "action": set(domain.actions) | set(domain.responses) | set(domain.forms) | set(DEFAULT_ACTION_NAMES)
        | retrieval_answers,
        "form": set(domain.forms) | set(DEFAULT_ACTION_NAMES),
        "slot": set(domain.slots) | set(DEFAULT_SLOT_NAMES),
        "entity": set(domain.entities),
    }
    findings: List[Finding] = []
    for ref in project.story_refs:
        name = ref.name.split("/")[0] if ref.what == "intent" else ref.name
        if name in known[ref.what]:
            continue
        label = {"action": "the response" if name.startswith("utter_") else "the action",
                 "form": "the form (`active_loop:`)", "slot": "the slot", "entity": "the entity",
                 "intent": "the intent"}[ref.what]
        findings.append(Finding(
            "unknown-in-story", ERROR, ref.loc.path, ref.loc.line,
            f"{ref.block} `{ref.block_name}` uses {label} `{ref.name}`, which is not in the domain; "
            f"{_fix(domain, ref, name)}",
        ))
    return findings
