"""``unnamed-in-flows``: each slot and form the stories and rules use has a plain name for the flow charts.

The writers' flow charts (:mod:`writers.flows`) say a condition or a memory step
in words, from the catalog's ``flow_slot_<slot>`` and ``flow_form_<form>``
(``data/texts/flows.yml``), in both languages. Without one the chart shows the
raw name: nothing breaks, so this is a warning, reported once per name at the
first step that uses it. A form's questions count too (the chart lists them).
"""

from __future__ import annotations

from typing import Dict, List, Tuple

from core.language import LANGUAGES
from core.texts import TextError
from writers.checks.base import LANGUAGE_NAMES, WARNING, Finding, Options
from writers.project import Project, StepRef

__all__ = ["FLOW_TEXTS", "check_flow_names"]

FLOW_TEXTS = "flows.yml"  # the catalog file the charts' names live in


def check_flow_names(project: Project, options: Options) -> List[Finding]:
    """``unnamed-in-flows``: a slot or form of a story or rule lacks its ``flow_...`` name in a language."""
    try:
        catalog = project.catalog
    except TextError:
        return []  # the texts check says why the catalog cannot be loaded
    domain = project.domain
    # (slot or form, name) → the first step that uses it, and the form that asks for it (a form's question)
    used: Dict[Tuple[str, str], Tuple[StepRef, str]] = {}
    for ref in project.story_refs:
        if ref.what == "slot":
            used.setdefault(("slot", ref.name), (ref, ""))
        elif ref.what in ("form", "action") and ref.name in domain.forms:
            used.setdefault(("form", ref.name), (ref, ""))
    for (what, name), (ref, _) in list(used.items()):
        if what == "form":
            for slot in domain.form_slots.get(name, []):
                used.setdefault(("slot", slot), (ref, name))
    file = f"{project.rel(project.texts_path)}/{FLOW_TEXTS}"
    findings: List[Finding] = []
    for (what, name), (ref, form) in used.items():
        key = f"flow_{what}_{name}"
        have = set(catalog.entry(key).variations) if key in catalog else set()
        missing = [LANGUAGE_NAMES[lang] for lang in ("en", "he") if lang in LANGUAGES and lang not in have]
        if not missing:
            continue
        user = f"the form `{form}` of {ref.block} `{ref.block_name}` asks for it" if form else \
            f"{ref.block} `{ref.block_name}` uses it"
        findings.append(Finding(
            "unnamed-in-flows", WARNING, ref.loc.path, ref.loc.line,
            f"the {what} `{name}` ({user}) has no {' or '.join(missing)} name for the flow charts, which show "
            f"its raw name instead; add `{key}:` with an `en:` and a `he:` plain name (e.g. \"the order "
            f"number\") to {file}",
        ))
    return findings
