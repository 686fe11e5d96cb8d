"""The text catalog (``data/texts``): every key in Hebrew and English, with the same arguments, in good form.

What the catalog itself calls a problem (:meth:`core.texts.TextCatalog.problems`:
a language missing, a malformed text, arguments that differ between the
languages, a count without a plural, buttons that differ) is reported at the
key's file and line with how to fix it; so is what would stop Kesher from
loading the catalog at all (a key twice, a value that is not a text). On top:
a Hebrew text has Hebrew letters and an English one none, and a canned reply's
shortcut is one an agent can type.
"""

from __future__ import annotations

import ast
import re
from typing import Any, Dict, Iterator, List, Mapping, Optional, Set, Tuple

from core.language import LANGUAGES
from core.texts import TextError
from writers.checks.base import ERROR, LANGUAGE_NAMES, WARNING, Finding, Options
from writers.checks.bilingual import button_findings, text_language_findings
from writers.project import Project, TextEntry, YamlMap, item_line, key_line

__all__ = ["CANNED_PREFIX", "check_texts"]

CANNED_PREFIX = "canned_"
# What console/canned.py accepts as a shortcut.
_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_FORMAT_HELP = ("write `{name}` for a value and `{n, plural, one {...} other {# ...}}` for a count, every `{` "
                "closed by a `}` (see \"The text catalog\" in docs/writing.md)")


def _what(key: str) -> str:
    if key.startswith(CANNED_PREFIX):
        return f"canned reply `/{key[len(CANNED_PREFIX):]}`"
    return f"text `{key}`"


def _variations(raw: Any, line: int) -> Iterator[Tuple[Any, int]]:
    """A language's variations (one value or a list of them), each with its line."""
    if isinstance(raw, list):
        for index, item in enumerate(raw):
            yield item, item_line(raw, index, line)
    else:
        yield raw, line


def _entry_findings(entry: TextEntry, empty: Set[Tuple[str, str]]) -> Tuple[List[Finding], bool]:
    """One key as written: its form (would Kesher load it?) and its languages.

    Returns:
        The findings, and whether the key is malformed (the catalog cannot load).
    """
    what, path = _what(entry.key), entry.path
    if not isinstance(entry.value, Mapping):
        return [Finding("empty-text", ERROR, path, entry.line,
                        f"{what} should have an `en:` and a `he:` text under it; add them")], True
    findings: List[Finding] = []
    malformed = False
    for language, raw in entry.value.items():
        language_line = key_line(entry.value, language, entry.line)
        name = LANGUAGE_NAMES.get(str(language), f"`{language}`")
        for variation, line in _variations(raw, language_line):
            text, buttons = variation, None
            if isinstance(variation, Mapping):
                text, buttons = variation.get("text"), variation.get("buttons")
                line = key_line(variation, "text", line)
            if text is None or (isinstance(text, str) and not text.strip()):
                empty.add((entry.key, str(language)))
                malformed = malformed or text is None
                findings.append(Finding("empty-text", ERROR, path, line, f"the {name} text of {what} is empty; "
                                                                         "write it"))
                continue
            if not isinstance(text, str):
                malformed = True
                findings.append(Finding(
                    "text-format", ERROR, path, line,
                    f"the {name} text of {what} should be a text in quotes, a list of texts (one is picked at "
                    "random) or `text:` with `buttons:`; put the text in double quotes",
                ))
                continue
            if not isinstance(buttons, (list, type(None))) or any(
                    not isinstance(b, Mapping) or not isinstance(b.get("title"), str) for b in buttons or []):
                malformed = True
                findings.append(Finding(
                    "text-format", ERROR, path, item_line(buttons, 0, line) if isinstance(buttons, list) else line,
                    f"every {name} button of {what} needs a `title:` (what the customer sees) and a `payload:` "
                    "(what it sends), as in the other texts with buttons",
                ))
                continue
            if language in LANGUAGES:
                findings += text_language_findings(what, str(language), text, path, line)
                findings += button_findings(what, str(language), buttons, path, line)
    return findings, malformed


def _canned_findings(entry: TextEntry) -> List[Finding]:
    """A canned reply's shortcut is one agents can type; it has a title for the list."""
    shortcut = entry.key[len(CANNED_PREFIX):]
    if not _SHORTCUT.match(shortcut):
        return [Finding(
            "canned-reply", ERROR, entry.path, entry.line,
            f"canned reply `{entry.key}`: what follows `{CANNED_PREFIX}` is what agents type after `/`; use "
            "lower-case letters, digits, `-` or `_` (at most 32), or the agent console does not start",
        )]
    findings: List[Finding] = []
    for language in LANGUAGES:
        value = entry.value.get(language) if isinstance(entry.value, Mapping) else None
        first = value[0] if isinstance(value, list) and value else value
        title = str(first.get("title") or "").strip() if isinstance(first, Mapping) else ""
        line = key_line(entry.value, language, entry.line)
        if not title:
            findings.append(Finding(
                "canned-reply", WARNING, entry.path, line,
                f"canned reply `/{shortcut}` has no {LANGUAGE_NAMES[language]} `title:`; agents whose console is in "
                f"{LANGUAGE_NAMES[language]} see only `/{shortcut}` in the list: write `{language}:` as `title:` "
                "(a few words) and `text:`, like the other canned replies",
            ))
        else:
            findings += text_language_findings(f"the title of canned reply `/{shortcut}`", language, title,
                                               entry.path, line)
    return findings


def _show_arguments(detail: str) -> str:
    """``he: ['a']; en: ['a', 'b']`` (as the catalog says it) → ``Hebrew: {a}; English: {a}, {b}``."""
    parts = []
    for language, names in re.findall(r"(\w+): (\[[^\]]*\]|none)", detail):
        listed = ast.literal_eval(names) if names.startswith("[") else []
        shown = ", ".join("{" + str(n) + "}" for n in listed) or "none"
        parts.append(f"{LANGUAGE_NAMES.get(language, language)}: {shown}")
    return "; ".join(parts) or detail


def _problem_finding(entry: TextEntry, problem: str, empty: Set[Tuple[str, str]]) -> Optional[Finding]:
    """A problem the catalog found in one key, with where it is and how to fix it."""
    what, path, value = _what(entry.key), entry.path, entry.value

    def line_of(language: str) -> int:
        return key_line(value, language, entry.line) if isinstance(value, YamlMap) else entry.line

    if match := re.search(r"has no '(\w+)' text$", problem):
        language = match.group(1)
        return Finding("missing-language-variation", ERROR, path, entry.line,
                       f"{what} has no {LANGUAGE_NAMES.get(language, language)} text; add "
                       f"`{language}: \"...\"` under `{entry.key}` in {path}")
    if match := re.search(r"has an empty '(\w+)' text$", problem):
        language = match.group(1)
        if (entry.key, language) in empty:
            return None  # reported at the empty variation's line
        return Finding("empty-text", ERROR, path, line_of(language),
                       f"the {LANGUAGE_NAMES.get(language, language)} text of {what} is empty; write it")
    if match := re.search(r"'(\w+)' is not a language Kesher speaks$", problem):
        language = match.group(1)
        return Finding("text-format", ERROR, path, line_of(language),
                       f"{what} has a text for `{language}`, which Kesher does not speak; keep `he:` and `en:` "
                       "only (fix the language code, or delete it)")
    if match := re.search(r"\[(\w+)\]: \{(\w+)\} is a count", problem):
        language, name = match.groups()
        return Finding("text-plural", ERROR, path, line_of(language),
                       f"the {LANGUAGE_NAMES.get(language, language)} text of {what} shows the count `{{{name}}}` "
                       f"as a plain value, so it could say \"1 minutes\"; write it as a plural: "
                       f"`{{{name}, plural, one {{...}} other {{# ...}}}}` (Hebrew also has `two {{...}}`; `#` is "
                       "the number)")
    if match := re.search(r"\[(\w+)\]: (.*)$", problem):
        language, detail = match.groups()
        return Finding("text-format", ERROR, path, line_of(language),
                       f"the {LANGUAGE_NAMES.get(language, language)} text of {what} cannot be read ({detail}); "
                       + _FORMAT_HELP)
    if match := re.search(r"the languages use different arguments \((.*)\)$", problem):
        return Finding("placeholder-mismatch", ERROR, path, entry.line,
                       f"{what} fills in different {{names}} in Hebrew and English ({_show_arguments(match.group(1))});"
                       " use the same ones in both, spelt exactly alike: Kesher gives both languages the same values")
    if "buttons send different payloads" in problem:
        return Finding("buttons-differ", ERROR, path, entry.line,
                       f"{what} offers different buttons in Hebrew and English; give both languages the same "
                       "buttons (same `payload:`, translated `title:`)")
    return Finding("text-format", ERROR, path, entry.line, f"{problem}; " + _FORMAT_HELP)


def check_texts(project: Project, options: Options) -> List[Finding]:
    """``missing-language-variation`` and ``placeholder-mismatch`` for the text catalog, and its other problems.

    Also ``duplicate-message`` (a key twice), ``empty-text``, ``text-format``,
    ``text-plural``, ``buttons-differ`` and ``canned-reply``.
    """
    findings: List[Finding] = []
    malformed = False
    for path in project.texts_files():
        data = project.yaml(path)
        if data is None and project.rel(path) in {p.path for p in project.yaml_problems()}:
            malformed = True  # the YAML check reports it
        elif not isinstance(data, Mapping) or not isinstance(data.get("texts"), Mapping):
            malformed = True
            findings.append(Finding(
                "text-format", ERROR, project.rel(path), key_line(data, "texts", 1),
                "a file of the text catalog is a `texts:` mapping of keys, each with `he:` and `en:` under it "
                "(see the other files of this folder)",
            ))
    seen: Dict[str, TextEntry] = {}
    entries: Dict[str, TextEntry] = {}
    empty: Set[Tuple[str, str]] = set()
    for entry in project.text_entries:
        if entry.key in seen:
            first = seen[entry.key]
            malformed = True
            findings.append(Finding(
                "duplicate-message", ERROR, entry.path, entry.line,
                f"text `{entry.key}` is also defined in {first.path}:{first.line}; Kesher cannot tell which to "
                "say: rename or delete one of them",
            ))
            continue
        seen[entry.key] = entries[entry.key] = entry
        entry_findings, broken = _entry_findings(entry, empty)
        findings += entry_findings
        malformed = malformed or broken
        if entry.key.startswith(CANNED_PREFIX):
            findings += _canned_findings(entry)
    if malformed or not project.texts_files():
        return findings  # the catalog's own checks need a catalog Kesher can load
    try:
        problems = project.catalog.problems()
    except TextError as exc:
        return [*findings, Finding("text-format", ERROR, project.rel(project.texts_path), 0,
                                   f"Kesher cannot load the text catalog: {exc}; " + _FORMAT_HELP)]
    for catalog_entry, problem in problems:
        entry = entries.get(catalog_entry.key) or TextEntry(
            catalog_entry.key, project.rel(catalog_entry.path), catalog_entry.line, None)
        finding = _problem_finding(entry, problem, empty)
        if finding is not None:
            findings.append(finding)
    return findings
