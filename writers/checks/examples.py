"""``too-few-examples``: each intent has enough examples in Hebrew *and* English (and the NLU names make sense)."""

from __future__ import annotations

from collections import defaultdict
from typing import Dict, List, Tuple

from rasa.shared.core.constants import DEFAULT_INTENTS

from core.language import LANGUAGES
from writers.checks.base import ERROR, LANGUAGE_NAMES, WARNING, Finding, Options
from writers.project import IntentBlock, Loc, Project

__all__ = ["check_examples"]


def check_examples(project: Project, options: Options) -> List[Finding]:
    """``too-few-examples``: each intent has enough examples in each language.

    Also ``unknown-intent`` (examples for an intent the domain lacks),
    ``faq-without-answer`` (a ``faq/<topic>`` with no ``utter_faq/<topic>``) and
    ``nlu-language-folder`` (examples outside a language folder).
    """
    domain = project.domain
    findings: List[Finding] = []
    counts: Dict[Tuple[str, str], int] = defaultdict(int)
    first_block: Dict[Tuple[str, str], IntentBlock] = {}
    nlu_intents: Dict[str, IntentBlock] = {}
    for block in project.intent_blocks:
        nlu_intents.setdefault(block.intent, block)
        if block.language is None:
            findings.append(Finding(
                "nlu-language-folder", WARNING, block.path, block.line,
                f"the examples of `{block.intent}` are not in a language folder, so the check cannot tell their "
                f"language; move them to {project.nlu_file_for(block.intent, 'en')} or "
                f"{project.nlu_file_for(block.intent, 'he')}",
            ))
            continue
        counts[(block.intent, block.language)] += len(block.examples)
        first_block.setdefault((block.intent, block.language), block)

    retrieval_bases = domain.retrieval_bases() | {i.split("/")[0] for i in nlu_intents if "/" in i}
    known_intents = set(domain.intents) | set(DEFAULT_INTENTS)
    for intent, block in nlu_intents.items():
        base = intent.split("/")[0]
        if base not in known_intents:
            findings.append(Finding(
                "unknown-intent", ERROR, block.path, block.line,
                f"intent `{intent}` has examples but is not in the domain, so the bot never learns it; "
                f"fix the name if it is a typo, or add `- {base}` under `intents:` in {domain.file_for('intents')}",
            ))
        if "/" in intent and f"utter_{intent}" not in domain.responses:
            findings.append(Finding(
                "faq-without-answer", ERROR, block.path, block.line,
                f"questions `{intent}` have no answer: add a response `utter_{intent}` with an English and a "
                f"Hebrew text under `responses:` in {domain.file_for_response('utter_' + intent)}, or delete these "
                "examples",
            ))

    # Intents to check, with where to point when an intent has no examples at all.
    wanted: Dict[str, Loc] = {i: loc for i, loc in domain.intents.items() if i not in retrieval_bases}
    for response, loc in domain.responses.items():
        if "/" in response:
            wanted.setdefault(response[len("utter_"):], loc)
    for intent, block in nlu_intents.items():
        wanted.setdefault(intent, Loc(block.path, block.line))

    for intent, loc in wanted.items():
        findings += _count_findings(project, options, intent, loc, counts, first_block, nlu_intents)
    return findings


def _count_findings(
    project: Project, options: Options, intent: str, loc: Loc, counts: Dict[Tuple[str, str], int],
    first_block: Dict[Tuple[str, str], IntentBlock], nlu_intents: Dict[str, IntentBlock],
) -> List[Finding]:
    """Too few examples of one intent, in either language."""
    minimum = options.min_retrieval_examples if "/" in intent else options.min_examples
    rule = f"each {'FAQ question' if '/' in intent else 'intent'} needs at least {minimum} in each language"
    if not any(counts[(intent, language)] for language in LANGUAGES):
        if intent in nlu_intents and nlu_intents[intent].language is None:
            return []  # reported already: examples outside a language folder
        what = (f"the answer `utter_{intent}` has no example questions" if "/" in intent
                else f"intent `{intent}` is in the domain but has no examples")
        files = " and ".join(
            f"{minimum} {LANGUAGE_NAMES[lang]} ones to {project.nlu_file_for(intent, lang)}" for lang in LANGUAGES
        )
        return [Finding(
            "too-few-examples", ERROR, loc.path, loc.line,
            f"{what}; add at least {files} under `- intent: {intent}`, or remove it if the bot no longer needs it",
        )]
    findings: List[Finding] = []
    for language in LANGUAGES:
        count = counts[(intent, language)]
        if count >= minimum:
            continue
        name = LANGUAGE_NAMES[language]
        existing = first_block.get((intent, language))
        if existing is not None:
            findings.append(Finding(
                "too-few-examples", ERROR, existing.path, existing.line,
                f"intent `{intent}` has {count} {name} examples; add at least {minimum - count} more to "
                f"{existing.path} under `- intent: {intent}` ({rule})",
            ))
            continue
        other = next(first_block[(intent, o)] for o in LANGUAGES if (intent, o) in first_block)
        target = project.nlu_file_for(intent, language, like=other.path)
        findings.append(Finding(
            "too-few-examples", ERROR, other.path, other.line,
            f"intent `{intent}` has {LANGUAGE_NAMES[other.language or 'en']} examples but no {name} ones; "
            f"add at least {minimum} {name} examples to {target} under a `- intent: {intent}` block "
            "(the same intent name)",
        ))
    return findings
