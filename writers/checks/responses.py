"""``missing-language-variation``: each domain response has a Hebrew and an English text, really in that language."""

from __future__ import annotations

import re
from typing import Any, Dict, List, Mapping, Set, Tuple

from core.language import LANGUAGES
from writers.checks.base import ERROR, LANGUAGE_NAMES, WARNING, Finding, Options
from writers.checks.bilingual import button_findings, text_language_findings
from writers.project import Project, item_line, response_language

__all__ = ["check_responses"]

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _payloads(buttons: Any) -> List[str]:
    return sorted(str(b.get("payload")) for b in buttons if isinstance(b, Mapping)) if isinstance(buttons, list) else []


def _compare_languages(what: str, texts: Mapping[str, List[Tuple[str, Any]]], path: str, line: int) -> List[Finding]:
    """Placeholders and button payloads agree between the Hebrew and English texts (warnings)."""
    findings: List[Finding] = []
    he_names = set().union(*(_PLACEHOLDER.findall(t) for t, _ in texts["he"]))
    en_names = set().union(*(_PLACEHOLDER.findall(t) for t, _ in texts["en"]))
    if he_names != en_names:
        def show(names: Set[str]) -> str:
            return ", ".join("{" + n + "}" for n in sorted(names)) or "none"

        findings.append(Finding(
            "placeholder-mismatch", WARNING, path, line,
            f"{what} fills in different {{names}} in Hebrew ({show(he_names)}) and English ({show(en_names)}); "
            "use the same ones in both, spelt exactly alike, so both languages give the customer the same facts",
        ))
    if {tuple(_payloads(b)) for _, b in texts["he"]} != {tuple(_payloads(b)) for _, b in texts["en"]}:
        findings.append(Finding(
            "buttons-differ", WARNING, path, line,
            f"{what} offers different buttons in Hebrew and English; give both languages the same buttons "
            "(same `payload:`, translated `title:`)",
        ))
    return findings


def check_responses(project: Project, options: Options) -> List[Finding]:
    """``missing-language-variation``: each domain response has a Hebrew and an English text.

    Also ``empty-text`` and, as warnings, ``placeholder-mismatch`` and ``buttons-differ``.
    """
    findings: List[Finding] = []
    for name, loc in project.domain.responses.items():
        what = f"response `{name}`"
        variations = project.domain.variations.get(name)
        if not isinstance(variations, list):
            findings.append(Finding(
                "empty-text", ERROR, loc.path, loc.line,
                f"{what} has no texts; add an English `- text:` and a Hebrew one (see the other responses)",
            ))
            continue
        texts: Dict[str, List[Tuple[str, Any]]] = {language: [] for language in LANGUAGES}
        for index, variation in enumerate(variations):
            if not isinstance(variation, Mapping):
                continue
            line = item_line(variations, index, loc.line)
            language = response_language(variation)
            text = variation.get("text")
            if language is None:
                findings.append(Finding(
                    "missing-language-variation", WARNING, loc.path, line,
                    f"a text of {what} has a `language` condition that is neither `he` nor `en`; the bot only "
                    "speaks Hebrew and English, so use `value: he` (or no condition for English)",
                ))
                continue
            if not (isinstance(text, str) and text.strip()):
                if not any(variation.get(k) for k in ("custom", "image", "attachment")):
                    findings.append(Finding(
                        "empty-text", ERROR, loc.path, line,
                        f"the {LANGUAGE_NAMES[language]} text of {what} is empty; write the text or delete "
                        "this variation",
                    ))
                continue
            texts[language].append((text, variation.get("buttons")))
            findings += text_language_findings(what, language, text, loc.path, line)
            findings += button_findings(what, language, variation.get("buttons"), loc.path, line)
        if not texts["he"]:
            findings.append(Finding(
                "missing-language-variation", ERROR, loc.path, loc.line,
                f"{what} has no Hebrew text; under `{name}` in {loc.path} add a `- text:` in Hebrew with "
                "`condition:` `- type: slot` / `name: language` / `value: he` (copy the layout of another response)",
            ))
        if not texts["en"]:
            findings.append(Finding(
                "missing-language-variation", ERROR, loc.path, loc.line,
                f"{what} has no English text; under `{name}` in {loc.path} add a `- text:` in English with no "
                "`condition:` (English is what customers get unless they write Hebrew)",
            ))
        if texts["he"] and texts["en"]:
            findings += _compare_languages(what, texts, loc.path, loc.line)
    return findings
