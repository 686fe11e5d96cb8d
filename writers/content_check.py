"""The content check: Rasa's validation plus the checks a bilingual bot needs.

``python -m kesher check-content [--project DIR]`` (``make check-content``) runs
``rasa data validate`` and then checks what Rasa does not know about: every
intent has enough examples in Hebrew *and* English, every response, action
message and canned reply has a Hebrew and an English text (really written in
that language), every help-centre article exists in both languages with
complete front matter, no example sentence is taught for two intents, and
stories and rules only name intents, actions, forms, slots and entities the
domain has. Each problem is printed as ``path:line: severity [kind] message``
with a message that says what to change, written for the content writers
(see docs/writing.md). The exit status is 1 when there is any error; warnings
alone do not fail the check.

Each check is a small ``check_<what>(project) -> List[Finding]`` function; a
:class:`Project` reads every file once (with ruamel.yaml's round-trip loader,
which keeps line numbers) and can point at any folder, so the tests run the
checks on small broken copies of a project.
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from dataclasses import asdict, dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any, Callable, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Set, Tuple
from urllib.parse import urlparse

from rasa.shared.core.constants import DEFAULT_ACTION_NAMES, DEFAULT_INTENTS, DEFAULT_SLOT_NAMES
from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from core.language import is_hebrew
from core.processes import venv_bin
from core.settings import PROJECT_ROOT, Settings

__all__ = [
    "CHECKS",
    "KNOWN_RASA_WARNING",
    "MIN_EXAMPLES",
    "MIN_RETRIEVAL_EXAMPLES",
    "Finding",
    "Project",
    "check_actions",
    "check_canned",
    "check_duplicates",
    "check_entities",
    "check_examples",
    "check_kb",
    "check_messages",
    "check_rasa",
    "check_regexes",
    "check_responses",
    "check_stories",
    "check_yaml",
    "format_findings",
    "main",
    "normalize_example",
    "run_checks",
]

LANGUAGES = ("he", "en")
LANGUAGE_NAMES = {"he": "Hebrew", "en": "English"}
ERROR = "error"
WARNING = "warning"

# Minimum examples per intent and language. The smallest intents today have 22
# (bot_challenge) and every FAQ question 24 per language. Ordinary intents
# compete with each other in one classifier, and the NLU gate (bot/nlu_gate.py)
# holds out 20 % of them: 20 per language keeps 8 held-out sentences per intent,
# the least that makes its per-intent F1 mean something, while the check still
# passes the current data with a little room. A ``faq/<topic>`` question only
# has to tell its answer apart from the other FAQ answers (the intent
# classifier sees all FAQ questions pooled as ``faq``, over 380 per language),
# so 10 per language is enough for a new topic, which is what docs/writing.md
# tells writers. Both are options (--min-examples, --min-faq-examples).
MIN_EXAMPLES = 20
MIN_RETRIEVAL_EXAMPLES = 10

# Rasa 3.6 warns about any retrieval intent declared in the domain, because it
# merges the retrieval intents found in the NLU data into the domain a second
# time (see tests/test_rasa_native.py): not about our data, so not a finding.
KNOWN_RASA_WARNING = "The following duplicated intents have been found across multiple domain files: faq"
RASA_TIMEOUT_SECONDS = 600

_HEBREW_BLOCK = re.compile(r"[\u0590-\u05ff]")
_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
# [text](entity), [text](entity:value), [text]{"entity": ...}, [text][{...}, {...}]
_ENTITY = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<name>[^:)]+?)(?::[^)]*)?\)|\{(?P<dict>[^}]+?)\}|\[(?P<list>\{.*?\})\])"
)
_TRAILING_PUNCTUATION = " \t.,!?;:…"
# What handoff/console/canned.py accepts as a shortcut.
_SHORTCUT = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")
_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+(?P<level>[A-Z]+)\s+\S+\s+-\s+(?P<message>.*)$")
_WARNING_LINE = re.compile(r"\bUserWarning: (?P<message>.*)$")


@dataclass(frozen=True)
class Finding:
    """One problem in the content.

    Attributes:
        kind: Short id of the check, e.g. ``too-few-examples``.
        severity: ``error`` (fails the check) or ``warning``.
        path: File, relative to the project (``.`` for the project as a whole).
        line: 1-based line in that file (0 when unknown).
        message: What is wrong and how to fix it, for a content writer.
    """

    kind: str
    severity: str
    path: str
    line: int
    message: str

    def sort_key(self) -> Tuple[str, int, int, str, str]:
        """Orders by file, then line; errors before warnings on one line."""
        return (self.path, self.line, 0 if self.severity == ERROR else 1, self.kind, self.message)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.severity} [{self.kind}] {self.message}"


@dataclass(frozen=True)
class Loc:
    """Where something is written: a project-relative path and a 1-based line."""

    path: str
    line: int


@dataclass(frozen=True)
class Example:
    """One training example and its line."""

    text: str
    line: int


@dataclass
class IntentBlock:
    """One ``- intent: X`` block of an NLU file."""

    intent: str
    language: Optional[str]
    path: str
    line: int
    examples: List[Example]


@dataclass(frozen=True)
class StepRef:
    """A name a story or rule step uses.

    Attributes:
        block: ``story`` or ``rule``.
        block_name: The story's or rule's title.
        what: ``intent``, ``action``, ``form``, ``slot`` or ``entity``.
        name: The name used.
        loc: Where the step is.
    """

    block: str
    block_name: str
    what: str
    name: str
    loc: Loc


@dataclass
class Domain:
    """The domain files merged, with where each name is defined first."""

    files: List[str] = field(default_factory=list)
    intents: Dict[str, Loc] = field(default_factory=dict)
    entities: Dict[str, Loc] = field(default_factory=dict)
    slots: Dict[str, Loc] = field(default_factory=dict)
    forms: Dict[str, Loc] = field(default_factory=dict)
    actions: Dict[str, Loc] = field(default_factory=dict)
    responses: Dict[str, Loc] = field(default_factory=dict)
    variations: Dict[str, Any] = field(default_factory=dict)
    section_files: Dict[str, str] = field(default_factory=dict)

    def file_for(self, section: str) -> str:
        """The domain file that has a section (``intents``, ``responses``...), to tell writers where."""
        return self.section_files.get(section) or (self.files[0] if self.files else "domain.yml")

    def file_for_response(self, name: str) -> str:
        """Where a new response belongs: beside its retrieval siblings (``utter_faq/...``), else with the others."""
        if "/" in name:
            base = name.split("/")[0] + "/"
            sibling = next((loc.path for response, loc in self.responses.items() if response.startswith(base)), None)
            if sibling is not None:
                return sibling
        return self.file_for("responses")

    def retrieval_bases(self) -> Set[str]:
        """Retrieval intents with answers in the domain (``faq`` for ``utter_faq/x``)."""
        return {name[len("utter_"):].split("/")[0] for name in self.responses if "/" in name}


def _key_line(mapping: Any, key: Any, default: int = 0) -> int:
    """1-based line of a key in a ruamel mapping."""
    try:
        return int(mapping.lc.key(key)[0]) + 1
    except (AttributeError, KeyError, TypeError):
        return default


def _item_line(seq: Any, index: int, default: int = 0) -> int:
    """1-based line of an item in a ruamel sequence."""
    try:
        return int(seq.lc.item(index)[0]) + 1
    except (AttributeError, KeyError, TypeError, IndexError):
        return default


def _names(section: Any) -> Iterator[Tuple[str, Any, int]]:
    """Names in a domain list (``- greet`` or ``- greet: {...}``) or mapping, with their key/item."""
    if isinstance(section, Mapping):
        for name in section:
            yield str(name), section, _key_line(section, name)
    elif isinstance(section, list):
        for index, item in enumerate(section):
            line = _item_line(section, index)
            if isinstance(item, Mapping):
                for name in item:
                    yield str(name), item, line
            elif item is not None:
                yield str(item), section, line


def normalize_example(text: str) -> str:
    """An example's text for comparing: annotations reduced to their text, case and spacing folded.

    Args:
        text: The example as written, e.g. ``Where is order [123456](order_id)?``.

    Returns:
        ``where is order 123456``.
    """
    text = _ENTITY.sub(lambda m: m.group("text"), text)
    return " ".join(text.lower().split()).rstrip(_TRAILING_PUNCTUATION)


def _entity_names(text: str) -> List[str]:
    """Entity names annotated in an example."""
    names: List[str] = []
    for match in _ENTITY.finditer(text):
        if match.group("name"):
            names.append(match.group("name").strip())
            continue
        raw = match.group("dict") or match.group("list") or ""
        source = "{" + raw + "}" if match.group("dict") else "[" + raw + "]"
        try:
            parsed = json.loads(source)
        except json.JSONDecodeError:
            continue
        for item in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(item, dict) and item.get("entity"):
                names.append(str(item["entity"]))
    return names


def _placeholders(text: str) -> Set[str]:
    return set(_PLACEHOLDER.findall(text))


def _quote(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return f'"{text}"' if len(text) <= limit else f'"{text[:limit - 1]}…"'


class Project:
    """A bot project's content, read once and cached.

    Every path is relative to ``root``, so a test can build a small project in
    a temporary folder and check it.
    """

    def __init__(
        self,
        root: Path,
        *,
        domain: str = "domain",
        data: str = "data",
        config: str = "config.yml",
        kb: str = "data/kb",
        messages: Sequence[str] = ("data/messages", "handoff/texts.yml"),
        canned: str = "handoff/canned.yml",
        actions: str = "actions",
        min_examples: int = MIN_EXAMPLES,
        min_retrieval_examples: int = MIN_RETRIEVAL_EXAMPLES,
    ) -> None:
        """Points at a project; nothing is read until a check asks.

        Args:
            root: The project folder.
            domain: Domain file or folder of domain files.
            data: Folder of NLU, story and rule files (as ``rasa --data``).
            config: Rasa's pipeline and policies.
            kb: Folder of help-centre articles, ``<language>/<slug>.md``.
            messages: Files or folders of what custom actions and services say
                (``messages:`` or ``texts:`` mapping, ``en``/``he`` per entry).
            canned: The agents' canned replies.
            actions: The custom actions' Python package.
            min_examples: Examples each intent needs per language.
            min_retrieval_examples: Examples each ``faq/<topic>`` needs per language.
        """
        self.root = root.resolve()
        self.domain_path = self.root / domain
        self.data_path = self.root / data
        self.config_path = self.root / config
        self.kb_path = self.root / kb
        self.message_paths = [self.root / m for m in messages]
        self.canned_path = self.root / canned
        self.actions_path = self.root / actions
        self.min_examples = min_examples
        self.min_retrieval_examples = min_retrieval_examples
        self._yaml_cache: Dict[Path, Any] = {}
        self._yaml_errors: Dict[Path, Finding] = {}

    # -- files -------------------------------------------------------------------------
    def rel(self, path: Path) -> str:
        """``path`` relative to the project, with forward slashes."""
        try:
            return path.resolve().relative_to(self.root).as_posix()
        except ValueError:
            return path.as_posix()

    @staticmethod
    def _yaml_files(path: Path) -> List[Path]:
        if path.is_file():
            return [path]
        if path.is_dir():
            return sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())
        return []

    def yaml(self, path: Path) -> Any:
        """A YAML file, round-trip loaded (so nodes know their lines); None if unreadable.

        A file that does not parse is recorded as a ``yaml`` finding (see :func:`check_yaml`).
        """
        path = path.resolve()
        if path in self._yaml_cache:
            return self._yaml_cache[path]
        data: Any = None
        try:
            data = YAML(typ="rt").load(path.read_text(encoding="utf-8"))
        except MarkedYAMLError as exc:
            mark = exc.problem_mark or exc.context_mark
            line = mark.line + 1 if mark is not None else 1
            problem = exc.problem or exc.context or "not valid YAML"
            self._yaml_errors[path] = Finding(
                "yaml", ERROR, self.rel(path), line,
                f"this file is not valid YAML ({problem}), so the bot ignores it; check the indentation, "
                "quotes and brackets on this line and the one before (every item of a list starts with "
                "`- ` at the same indentation; texts with `:` or `#` need quotes)",
            )
        except (YAMLError, UnicodeDecodeError) as exc:
            self._yaml_errors[path] = Finding(
                "yaml", ERROR, self.rel(path), 1,
                f"this file cannot be read ({exc}); save it as UTF-8 YAML",
            )
        self._yaml_cache[path] = data
        return data

    def yaml_errors(self) -> List[Finding]:
        """The YAML files read so far that did not parse."""
        return list(self._yaml_errors.values())

    def all_yaml_files(self) -> List[Path]:
        """Every YAML file the checks read."""
        files = [self.config_path, self.canned_path, *self.domain_files(), *self._yaml_files(self.data_path)]
        for message_path in self.message_paths:
            files += self._yaml_files(message_path)
        return [f for f in dict.fromkeys(files) if f.is_file()]

    def domain_files(self) -> List[Path]:
        """The domain's YAML files."""
        return self._yaml_files(self.domain_path)

    def data_files(self, key: str) -> List[Path]:
        """Data files with a top-level ``key`` (``nlu``, ``stories``, ``rules``)."""
        return [p for p in self._yaml_files(self.data_path) if isinstance(d := self.yaml(p), Mapping) and key in d]

    def language_of(self, path: Path) -> Optional[str]:
        """The language of a data file: the language folder it is in (``data/nlu/he/`` is Hebrew)."""
        try:
            parts = path.resolve().relative_to(self.data_path.resolve()).parts[:-1]
        except ValueError:
            parts = path.parts[:-1]
        return next((p for p in parts if p in LANGUAGES), None)

    def nlu_file_for(self, intent: str, language: str, like: Optional[str] = None) -> str:
        """The NLU file a writer should add ``intent``'s ``language`` examples to.

        Args:
            intent: The intent.
            language: ``he`` or ``en``.
            like: A file with the intent's examples in the other language: the
                same file name in ``language``'s folder is suggested.
        """
        if like is not None:
            parts = like.split("/")
            for index, part in enumerate(parts[:-1]):
                if part in LANGUAGES:
                    return "/".join([*parts[:index], language, *parts[index + 1:]])
        name = "faq.yml" if "/" in intent else "core.yml"
        return self.rel(self.data_path / "nlu" / language / name)

    # -- parsed content ----------------------------------------------------------------
    @cached_property
    def domain(self) -> Domain:
        """The domain files merged."""
        domain = Domain()
        for path in self.domain_files():
            data = self.yaml(path)
            if not isinstance(data, Mapping):
                continue
            rel = self.rel(path)
            domain.files.append(rel)
            for section in ("intents", "entities", "slots", "forms", "actions", "responses"):
                if section not in data:
                    continue
                domain.section_files.setdefault(section, rel)
                target: Dict[str, Loc] = getattr(domain, section)
                for name, _, line in _names(data[section]):
                    target.setdefault(name, Loc(rel, line))
                    if section == "responses":
                        domain.variations.setdefault(name, data[section][name])
        return domain

    @cached_property
    def intent_blocks(self) -> List[IntentBlock]:
        """Every ``- intent:`` block of the NLU data, in file order."""
        blocks: List[IntentBlock] = []
        for path in self.data_files("nlu"):
            items = self.yaml(path)["nlu"]
            if not isinstance(items, list):
                continue
            rel, language = self.rel(path), self.language_of(path)
            for index, item in enumerate(items):
                if isinstance(item, Mapping) and item.get("intent"):
                    line = _item_line(items, index)
                    blocks.append(IntentBlock(str(item["intent"]), language, rel, line, _examples(item, line)))
        return blocks

    @cached_property
    def story_refs(self) -> List[StepRef]:
        """Every intent, action, form, slot and entity the stories and rules name."""
        refs: List[StepRef] = []
        for key, block in (("stories", "story"), ("rules", "rule")):
            for path in self.data_files(key):
                items = self.yaml(path)[key]
                if not isinstance(items, list):
                    continue
                rel = self.rel(path)
                for index, item in enumerate(items):
                    if not isinstance(item, Mapping):
                        continue
                    name = str(item.get(block) or f"#{index + 1}")
                    for section in ("condition", "steps"):
                        steps = item.get(section)
                        if isinstance(steps, list):
                            refs += _step_refs(block, name, rel, steps)
        return refs

    @cached_property
    def kb_articles(self) -> Dict[str, Dict[str, Path]]:
        """Help-centre articles: ``{language: {slug: path}}``."""
        return {
            language: {p.stem: p for p in sorted((self.kb_path / language).glob("*.md"))}
            for language in LANGUAGES
        }


def _examples(item: Mapping[str, Any], block_line: int) -> List[Example]:
    """The examples of an NLU block, with their lines.

    A ``examples: |`` block's text starts on the line after the key, so the
    n-th line of the text is that many lines further down.
    """
    raw = item.get("examples")
    examples: List[Example] = []
    if isinstance(raw, str):
        first = _key_line(item, "examples", block_line) + 1
        for offset, line in enumerate(raw.splitlines()):
            stripped = line.strip()
            if stripped.startswith("-"):
                examples.append(Example(stripped[1:].strip(), first + offset))
    elif isinstance(raw, list):  # examples with metadata: a list of {text: ...}
        for index, entry in enumerate(raw):
            text = entry.get("text") if isinstance(entry, Mapping) else entry
            if isinstance(text, str):
                examples.append(Example(text.strip(), _item_line(raw, index, block_line)))
    return examples


def _step_refs(block: str, block_name: str, path: str, steps: List[Any]) -> List[StepRef]:
    refs: List[StepRef] = []
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping):
            continue
        loc = Loc(path, _item_line(steps, index))
        if step.get("intent"):
            refs.append(StepRef(block, block_name, "intent", str(step["intent"]), loc))
        if step.get("action"):
            refs.append(StepRef(block, block_name, "action", str(step["action"]), loc))
        if step.get("active_loop"):
            refs.append(StepRef(block, block_name, "form", str(step["active_loop"]), loc))
        for what, key in (("slot", "slot_was_set"), ("entity", "entities")):
            values = step.get(key)
            if not isinstance(values, list):
                continue
            for item_index, value in enumerate(values):
                item_loc = Loc(path, _item_line(values, item_index, loc.line))
                if isinstance(value, Mapping):
                    names = [value["entity"]] if what == "entity" and "entity" in value else list(value)
                else:
                    names = [value]
                refs += [StepRef(block, block_name, what, str(n), item_loc) for n in names if n is not None]
        alternatives = step.get("or")
        if isinstance(alternatives, list):
            refs += _step_refs(block, block_name, path, alternatives)
    return refs


# -- the checks --------------------------------------------------------------------------
def check_yaml(project: Project) -> List[Finding]:
    """Every YAML file the bot reads parses (a broken file is silently skipped by Rasa)."""
    for path in project.all_yaml_files():
        project.yaml(path)
    return project.yaml_errors()


def check_examples(project: Project) -> List[Finding]:
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
        minimum = project.min_retrieval_examples if "/" in intent else project.min_examples
        rule = f"each {'FAQ question' if '/' in intent else 'intent'} needs at least {minimum} in each language"
        if not any(counts[(intent, language)] for language in LANGUAGES):
            if intent in nlu_intents and nlu_intents[intent].language is None:
                continue  # reported above: examples outside a language folder
            what = (f"the answer `utter_{intent}` has no example questions" if "/" in intent
                    else f"intent `{intent}` is in the domain but has no examples")
            files = " and ".join(
                f"{minimum} {LANGUAGE_NAMES[lang]} ones to {project.nlu_file_for(intent, lang)}" for lang in LANGUAGES
            )
            findings.append(Finding(
                "too-few-examples", ERROR, loc.path, loc.line,
                f"{what}; add at least {files} under `- intent: {intent}`, or remove it if the bot no longer needs it",
            ))
            continue
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


def _variation_language(variation: Mapping[str, Any]) -> Optional[str]:
    """``he``/``en`` for a response variation: its ``language`` slot condition, or English without one."""
    for condition in variation.get("condition") or []:
        if isinstance(condition, Mapping) and condition.get("type") == "slot" and condition.get("name") == "language":
            value = condition.get("value")
            return str(value) if value in LANGUAGES else None
    return "en"


def _text_language_findings(what: str, language: str, text: str, path: str, line: int) -> List[Finding]:
    """The text is really in its language: Hebrew letters in Hebrew, none in English."""
    if language == "he" and not is_hebrew(text):
        return [Finding(
            "missing-language-variation", ERROR, path, line,
            f"the Hebrew text of {what} has no Hebrew letters ({_quote(text)}); write it in Hebrew: customers "
            "who write in Hebrew get this text",
        )]
    if language == "en" and _HEBREW_BLOCK.search(text):
        return [Finding(
            "missing-language-variation", WARNING, path, line,
            f"the English text of {what} contains Hebrew ({_quote(text)}); make sure it is not the Hebrew "
            "text in the English place, and translate it",
        )]
    return []


def _button_findings(what: str, language: str, buttons: Any, path: str, line: int) -> List[Finding]:
    findings: List[Finding] = []
    for index, button in enumerate(buttons if isinstance(buttons, list) else []):
        if not isinstance(button, Mapping):
            continue
        title = str(button.get("title") or "")
        button_line = _item_line(buttons, index, line)
        if not title.strip():
            findings.append(Finding(
                "empty-text", ERROR, path, button_line,
                f"a {LANGUAGE_NAMES[language]} button of {what} has no title; write the `title:` customers see",
            ))
        elif language == "he" and not is_hebrew(title):
            findings.append(Finding(
                "missing-language-variation", WARNING, path, button_line,
                f"the Hebrew button {_quote(title)} of {what} has no Hebrew letters; translate its title",
            ))
        elif language == "en" and _HEBREW_BLOCK.search(title):
            findings.append(Finding(
                "missing-language-variation", WARNING, path, button_line,
                f"the English button {_quote(title)} of {what} contains Hebrew; translate its title",
            ))
    return findings


def _payloads(buttons: Any) -> List[str]:
    return sorted(str(b.get("payload")) for b in buttons if isinstance(b, Mapping)) if isinstance(buttons, list) else []


def _compare_languages(
    what: str, texts: Mapping[str, List[Tuple[str, Any]]], path: str, line: int
) -> List[Finding]:
    """Placeholders and button payloads agree between the Hebrew and English texts."""
    findings: List[Finding] = []
    he_names = set().union(*(_placeholders(t) for t, _ in texts["he"]))
    en_names = set().union(*(_placeholders(t) for t, _ in texts["en"]))
    if he_names != en_names:
        def show(names: Set[str]) -> str:
            return ", ".join("{" + n + "}" for n in sorted(names)) or "none"

        findings.append(Finding(
            "placeholder-mismatch", WARNING, path, line,
            f"{what} fills in different {{names}} in Hebrew ({show(he_names)}) and English ({show(en_names)}); "
            "use the same ones in both, spelt exactly alike, so both languages give the customer the same facts",
        ))
    he_payloads = {tuple(_payloads(b)) for _, b in texts["he"]}
    en_payloads = {tuple(_payloads(b)) for _, b in texts["en"]}
    if he_payloads != en_payloads:
        findings.append(Finding(
            "buttons-differ", WARNING, path, line,
            f"{what} offers different buttons in Hebrew and English; give both languages the same buttons "
            "(same `payload:`, translated `title:`)",
        ))
    return findings


def check_responses(project: Project) -> List[Finding]:
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
            line = _item_line(variations, index, loc.line)
            language = _variation_language(variation)
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
            findings += _text_language_findings(what, language, text, loc.path, line)
            findings += _button_findings(what, language, variation.get("buttons"), loc.path, line)
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


def _per_language_entry(
    what: str, entry: Any, path: str, line: int, how_to_add: Callable[[str], str]
) -> List[Finding]:
    """Checks an ``{en: ..., he: ...}`` entry (a text, a list of texts, or ``{text, buttons}``)."""
    if not isinstance(entry, Mapping):
        return [Finding("empty-text", ERROR, path, line,
                        f"{what} should have an `en:` and a `he:` text under it; add them")]
    findings: List[Finding] = []
    texts: Dict[str, List[Tuple[str, Any]]] = {language: [] for language in LANGUAGES}
    for language in LANGUAGES:
        name = LANGUAGE_NAMES[language]
        if language not in entry or entry[language] is None:
            findings.append(Finding(
                "missing-language-variation", ERROR, path, line,
                f"{what} has no {name} text; {how_to_add(language)}",
            ))
            continue
        raw = entry[language]
        language_line = _key_line(entry, language, line)
        variations = raw if isinstance(raw, list) else [raw]
        for index, variation in enumerate(variations):
            variation_line = _item_line(raw, index, language_line) if isinstance(raw, list) else language_line
            text = variation.get("text") if isinstance(variation, Mapping) else variation
            buttons = variation.get("buttons") if isinstance(variation, Mapping) else None
            if isinstance(variation, Mapping) and "text" in variation:
                variation_line = _key_line(variation, "text", variation_line)
            if not (isinstance(text, str) and text.strip()):
                findings.append(Finding(
                    "empty-text", ERROR, path, variation_line,
                    f"the {name} text of {what} is empty; write it",
                ))
                continue
            texts[language].append((text, buttons))
            findings += _text_language_findings(what, language, text, path, variation_line)
            findings += _button_findings(what, language, buttons, path, variation_line)
    if texts["he"] and texts["en"]:
        findings += _compare_languages(what, texts, path, line)
    return findings


def check_messages(project: Project) -> List[Finding]:
    """``missing-language-variation`` for what custom actions and services say (data/messages, handoff/texts.yml).

    Also ``empty-text``, ``duplicate-message`` and the warnings of :func:`check_responses`.
    """
    findings: List[Finding] = []
    seen: Dict[str, Loc] = {}
    for message_path in project.message_paths:
        for path in Project._yaml_files(message_path):
            data = project.yaml(path)
            if not isinstance(data, Mapping):
                continue
            rel = project.rel(path)
            for key in ("messages", "texts"):
                entries = data.get(key)
                if not isinstance(entries, Mapping):
                    continue
                for name in entries:
                    line = _key_line(entries, name)
                    if name in seen:
                        first = seen[name]
                        findings.append(Finding(
                            "duplicate-message", ERROR, rel, line,
                            f"message `{name}` is also defined in {first.path}:{first.line}; the actions cannot "
                            "tell which to say: rename or delete one of them",
                        ))
                    seen.setdefault(name, Loc(rel, line))

                    def how_to_add(language: str, name: str = name, rel: str = rel) -> str:
                        return f"add `{language}: \"...\"` under `{name}` in {rel}"

                    findings += _per_language_entry(f"message `{name}`", entries[name], rel, line, how_to_add)
    return findings


def check_canned(project: Project) -> List[Finding]:
    """``missing-language-variation`` for the agents' canned replies; ``canned-reply`` for their shortcuts."""
    path = project.canned_path
    data = project.yaml(path) if path.is_file() else None
    replies = data.get("replies") if isinstance(data, Mapping) else None
    if not isinstance(replies, list):
        return []
    rel = project.rel(path)
    findings: List[Finding] = []
    seen: Dict[str, int] = {}
    for index, reply in enumerate(replies):
        line = _item_line(replies, index)
        if not isinstance(reply, Mapping):
            findings.append(Finding("canned-reply", ERROR, rel, line,
                                    "this canned reply should have `shortcut:`, `title:`, `he:` and `en:` lines"))
            continue
        shortcut = str(reply.get("shortcut") or "").strip()
        label = f"canned reply `/{shortcut}`" if shortcut else f"canned reply number {index + 1}"
        if not shortcut or not _SHORTCUT.match(shortcut):
            findings.append(Finding(
                "canned-reply", ERROR, rel, line,
                f"{label} needs a `shortcut:` of lower-case letters, digits, `-` or `_` (at most 32), "
                "or the agent console does not start",
            ))
        elif shortcut in seen:
            findings.append(Finding(
                "canned-reply", ERROR, rel, line,
                f"the shortcut `/{shortcut}` is also used on line {seen[shortcut]}; give one of them another "
                "shortcut, or the agent console does not start",
            ))
        seen.setdefault(shortcut, line)
        if not str(reply.get("title") or "").strip():
            findings.append(Finding("canned-reply", ERROR, rel, line,
                                    f"{label} has no `title:`; add the short title agents see in the list"))

        def how_to_add(language: str, label: str = label) -> str:
            return f"add `{language}: \"...\"` to {label} in {rel}"

        findings += _per_language_entry(label, reply, rel, line, how_to_add)
    return findings


def _front_matter(text: str) -> Tuple[Optional[List[str]], List[str], int]:
    """Splits an article into front-matter lines, body lines, and the body's first line (1-based)."""
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return None, lines, 1
    for index in range(1, len(lines)):
        if lines[index].strip() == "---":
            return lines[1:index], lines[index + 1:], index + 2
    return None, [], 0


def _kb_article_findings(project: Project, language: str, path: Path) -> List[Finding]:
    rel = project.rel(path)
    slug = path.stem

    def finding(line: int, message: str) -> Finding:
        return Finding("kb-front-matter", ERROR, rel, line, f"article `{slug}` ({LANGUAGE_NAMES[language]}): {message}")

    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        return [finding(1, "the file is not UTF-8 text; save it as UTF-8")]
    head, body, body_line = _front_matter(text)
    if head is None:
        if body_line == 0:
            return [finding(1, "the front matter is not closed; add a line with just `---` after its last line")]
        return [finding(1, "no front matter; start the file with a `---` line, then `title:`, `tags:` and "
                           "`url:` lines, then another `---` line (see any other article)")]
    try:
        meta = YAML(typ="rt").load("\n".join(head))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 2 if mark is not None else 1
        return [finding(line, f"the front matter is not valid YAML ({exc.problem}); check the quotes and brackets "
                              "(write tags as `[one, two]` and put a title with `:` in quotes)")]
    if not isinstance(meta, Mapping):
        return [finding(2, "the front matter should be `title:`, `tags:` and `url:` lines")]
    findings: List[Finding] = []

    def key_line(key: str) -> int:
        return _key_line(meta, key, -1) + 1 if key in meta else 1

    title = meta.get("title")
    if not isinstance(title, str) or not title.strip():
        findings.append(finding(key_line("title"), "`title:` is missing or empty; write the article's title"))
    tags = meta.get("tags")
    if not isinstance(tags, list) or not tags or not all(str(t or "").strip() for t in tags):
        findings.append(finding(key_line("tags"), "`tags:` must be a non-empty list of words customers use, "
                                                  "e.g. `tags: [delivery, courier, tracking]`"))
    url = meta.get("url")
    parsed = urlparse(str(url)) if isinstance(url, str) else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        findings.append(finding(key_line("url"), "`url:` must be the article's web address, starting with "
                                                 "https:// (the bot sends it as \"read more\")"))
    if not "\n".join(body).strip():
        findings.append(finding(body_line, "the article has no text after the front matter; write it below "
                                           "the second `---` line"))
    words = " ".join([str(title or ""), *(str(t) for t in (tags if isinstance(tags, list) else [])), *body])
    if language == "he" and not is_hebrew(words):
        findings.append(Finding("missing-language-variation", ERROR, rel, 1,
                                f"the Hebrew article `{slug}` has no Hebrew text; translate its title, tags and text"))
    if language == "en" and isinstance(title, str) and _HEBREW_BLOCK.search(title):
        findings.append(Finding("missing-language-variation", WARNING, rel, key_line("title"),
                                f"the English article `{slug}` has Hebrew in its title; translate it"))
    return findings


def check_kb(project: Project) -> List[Finding]:
    """``kb-article-unpaired`` (an article in one language only) and ``kb-front-matter``."""
    findings: List[Finding] = []
    articles = project.kb_articles
    for language in LANGUAGES:
        other = "en" if language == "he" else "he"
        for slug, path in articles[language].items():
            if slug not in articles[other]:
                rel = project.rel(path)
                target = project.rel(project.kb_path / other / f"{slug}.md")
                findings.append(Finding(
                    "kb-article-unpaired", ERROR, rel, 1,
                    f"help-centre article `{slug}` is in {LANGUAGE_NAMES[language]} only; add its "
                    f"{LANGUAGE_NAMES[other]} translation as {target} (the same file name), or delete {rel}",
                ))
            findings += _kb_article_findings(project, language, path)
    return findings


def check_duplicates(project: Project) -> List[Finding]:
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
                    f"the example {_quote(example.text)} is written twice under `{intent}` (also "
                    f"{first.path}:{first.line}); delete one of them",
                ))
            else:
                findings.append(Finding(
                    "duplicate-example", ERROR, block.path, example.line,
                    f"the example {_quote(example.text)} is under two intents: `{intent}` ({first.path}:{first.line})"
                    f" and `{block.intent}` (here); the bot cannot learn two meanings for one sentence: keep it under "
                    "the intent it means and delete or reword the other",
                ))
    return findings


def check_stories(project: Project) -> List[Finding]:
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
        where = f"{ref.block} `{ref.block_name}`"
        if ref.what == "intent":
            fix = (f"fix the name, or add `- {name}` under `intents:` in {domain.file_for('intents')} "
                   "(with examples in both languages)")
        elif ref.what == "action" and name.startswith("utter_"):
            fix = (f"fix the name, or add the response `{name}` with an English and a Hebrew text under "
                   f"`responses:` in {domain.file_for_response(name)}")
        elif ref.what == "action":
            fix = (f"fix the name, or ask a developer to add `- {name}` under `actions:` in "
                   f"{domain.file_for('actions')} and implement it in actions/")
        else:
            section = {"form": "forms", "slot": "slots", "entity": "entities"}[ref.what]
            fix = f"fix the name (the domain's {section} are listed under `{section}:` in {domain.file_for(section)})"
        label = {"action": "the response" if name.startswith("utter_") else "the action",
                 "form": "the form (`active_loop:`)", "slot": "the slot", "entity": "the entity",
                 "intent": "the intent"}[ref.what]
        findings.append(Finding(
            "unknown-in-story", ERROR, ref.loc.path, ref.loc.line,
            f"{where} uses {label} `{ref.name}`, which is not in the domain; {fix}",
        ))
    return findings


def check_entities(project: Project) -> List[Finding]:
    """``unknown-entity``: entities marked in examples (``[text](entity)``) are in the domain."""
    entities = project.domain.entities
    findings: List[Finding] = []
    for block in project.intent_blocks:
        for example in block.examples:
            for name in _entity_names(example.text):
                if name in entities:
                    continue
                listed = ", ".join(f"`{e}`" for e in entities) or "none yet"
                findings.append(Finding(
                    "unknown-entity", ERROR, block.path, example.line,
                    f"the example {_quote(example.text)} marks the entity `{name}`, which is not in the domain "
                    f"(its entities: {listed}); fix the name, or ask a developer to add `- {name}` under "
                    f"`entities:` in {project.domain.file_for('entities')}",
                ))
    return findings


def check_regexes(project: Project) -> List[Finding]:
    """``bad-regex``: the NLU data's regular expressions compile."""
    findings: List[Finding] = []
    for path in project.data_files("nlu"):
        items = project.yaml(path)["nlu"]
        for index, item in enumerate(items if isinstance(items, list) else []):
            if not (isinstance(item, Mapping) and item.get("regex")):
                continue
            for example in _examples(item, _item_line(items, index)):
                try:
                    re.compile(example.text)
                except re.error as exc:
                    findings.append(Finding(
                        "bad-regex", ERROR, project.rel(path), example.line,
                        f"the pattern for `{item['regex']}` is not a valid regular expression ({exc}); "
                        "ask a developer to fix it",
                    ))
    return findings


def _implemented_actions(actions_dir: Path) -> Set[str]:
    """Action names the custom actions' classes return from ``name()``, read from the source."""
    classes: Dict[str, ast.ClassDef] = {}
    for source in sorted(actions_dir.rglob("*.py")):
        try:
            tree = ast.parse(source.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                classes.setdefault(node.name, node)

    def base_names(cls: ast.ClassDef) -> List[str]:
        return [b.id if isinstance(b, ast.Name) else b.attr
                for b in cls.bases if isinstance(b, ast.Name | ast.Attribute)]

    def lineage(cls: ast.ClassDef) -> Tuple[List[ast.ClassDef], Set[str]]:
        order, external, todo = [], set(), [cls]
        while todo:
            current = todo.pop(0)
            if current in order:
                continue
            order.append(current)
            for base in base_names(current):
                if base in classes:
                    todo.append(classes[base])
                else:
                    external.add(base)
        return order, external

    def attribute(order: List[ast.ClassDef], name: str) -> Optional[str]:
        for cls in order:
            for statement in cls.body:
                targets = statement.targets if isinstance(statement, ast.Assign) else (
                    [statement.target] if isinstance(statement, ast.AnnAssign) else [])
                value = getattr(statement, "value", None)
                if any(isinstance(t, ast.Name) and t.id == name for t in targets) and isinstance(value, ast.Constant):
                    return str(value.value)
        return None

    def evaluate(node: Optional[ast.expr], order: List[ast.ClassDef]) -> Optional[str]:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            parts = []
            for value in node.values:
                if isinstance(value, ast.FormattedValue):
                    inner = value.value
                    resolved = (attribute(order, inner.attr) if isinstance(inner, ast.Attribute)
                                and isinstance(inner.value, ast.Name) and inner.value.id == "self" else None)
                    if resolved is None:
                        return None
                    parts.append(resolved)
                else:
                    parts.append(evaluate(value, order) or "")
            return "".join(parts)
        return None

    names: Set[str] = set()
    for cls in classes.values():
        order, external = lineage(cls)
        method = next((s for c in order for s in c.body if isinstance(s, ast.FunctionDef) and s.name == "name"), None)
        if method is None:
            if "ValidationAction" in external:  # rasa_sdk's default for the slot-mapping validator
                names.add("action_validate_slot_mappings")
            continue
        returns = [n for n in ast.walk(method) if isinstance(n, ast.Return)]
        if returns and (name := evaluate(returns[0].value, order)):
            names.add(name)
    return names


def check_actions(project: Project) -> List[Finding]:
    """``action-not-implemented`` (warning): each custom action in the domain has a class in actions/."""
    if not project.actions_path.is_dir():
        return []
    implemented = _implemented_actions(project.actions_path)
    findings: List[Finding] = []
    for name, loc in project.domain.actions.items():
        if name.startswith("utter_") or name in DEFAULT_ACTION_NAMES or name in implemented:
            continue
        findings.append(Finding(
            "action-not-implemented", WARNING, loc.path, loc.line,
            f"the action `{name}` is in the domain but no class in {project.rel(project.actions_path)}/ has "
            f"`name()` returning it; the bot fails when it runs it: ask a developer to implement it or remove it",
        ))
    return findings


# -- Rasa's own validation ---------------------------------------------------------------
def rasa_validate_command(project: Project) -> List[str]:
    """``rasa data validate`` as ``make validate`` and tests/test_rasa_native.py run it, for this project."""
    return [
        venv_bin("rasa"), "data", "validate", "--fail-on-warnings",
        "--domain", project.rel(project.domain_path),
        "--data", project.rel(project.data_path),
        "--config", project.rel(project.config_path),
    ]


def _rasa_messages(output: str, logged: bool = True) -> List[str]:
    """Rasa's warnings and logged warnings/errors, one string each (multi-line ones joined).

    Args:
        output: What ``rasa data validate`` printed.
        logged: Include log lines of level WARNING or above (story conflicts are
            logged), not only ``UserWarning``s.
    """
    messages: List[str] = []
    current: Optional[List[str]] = None
    for raw in _ANSI.sub("", output).splitlines():
        warning, log = _WARNING_LINE.search(raw), _LOG_LINE.match(raw)
        if warning or (logged and log and log.group("level") in ("WARNING", "ERROR", "CRITICAL")):
            current = [(warning or log).group("message").strip()]  # type: ignore[union-attr]
            messages.append("")
        elif current is not None and raw.strip() and not log and not raw.startswith("  More info") and (
            not raw[:1].isspace() or raw.strip().startswith(("utter_", "action_", "-"))
        ) and "Warning:" not in raw and not raw.startswith(("Processed ", "Project validation")):
            current.append(raw.strip())
        else:
            current = None
        if current is not None:
            messages[-1] = " ".join(part for part in current if part)
    return [m for m in dict.fromkeys(messages) if m and KNOWN_RASA_WARNING not in m]


def _locate(project: Project, message: str) -> Loc:
    """Where a Rasa message points: the file it names, and the line of the first name it quotes there."""
    path: Optional[str] = None
    for candidate in re.findall(r"['\"\s(]([^'\"\s()]+\.ya?ml)\b", f" {message}"):
        file = Path(candidate) if Path(candidate).is_absolute() else project.root / candidate
        if file.is_file():
            path = project.rel(file)
            break
    quoted = re.findall(r"'([^'\s]+)'", message)
    domain = project.domain
    quoted_blocks = set(re.findall(r"'([^']+)'", message))
    refs = sorted(project.story_refs, key=lambda r: r.block_name not in quoted_blocks)  # the block it names first
    stories = [r.loc for q in quoted for r in refs if r.name == q]
    examples = [Loc(b.path, b.line) for q in quoted for b in project.intent_blocks if b.intent == q]
    examples += [
        Loc(b.path, e.line) for q in re.findall(r"'([^']+)'", message) if " " in q
        for b in project.intent_blocks for e in b.examples if e.text == q
    ]
    definitions = [
        section[q] for q in quoted
        for section in (domain.intents, domain.actions, domain.responses, domain.slots, domain.forms, domain.entities)
        if q in section
    ]
    # "used in the stories" points at the story, "in the training data" at the examples,
    # "not used in any story" at the definition.
    places = examples + stories + definitions if "training data" in message else stories + definitions + examples
    in_file = [p for p in places if p.path == path] if path else places
    if in_file:
        return in_file[0]
    line = re.search(r"line (\d+)", message)
    return Loc(path or ".", int(line.group(1)) if path and line else (1 if path else 0))


def check_rasa(project: Project) -> List[Finding]:
    """``rasa``: what ``rasa data validate`` reports (its known ``faq`` warning aside)."""
    command = rasa_validate_command(project)
    env = Settings.from_env().child_env()
    # The project's own components (config.yml names them) load from its folder, then from Kesher's.
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in (str(project.root), env["PYTHONPATH"]) if p))
    try:
        done = subprocess.run(command, cwd=project.root, env=env, capture_output=True, text=True,
                              timeout=RASA_TIMEOUT_SECONDS)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return [Finding("rasa", ERROR, ".", 0, f"could not run `{' '.join(command)}` ({exc}); run `make install`")]
    output = done.stdout + done.stderr
    findings = []
    # Like tests/test_rasa_native.py, any UserWarning but the known one fails; a
    # logged warning only counts when Rasa itself failed the validation.
    for message in _rasa_messages(output, logged=done.returncode != 0):
        loc = _locate(project, message)
        findings.append(Finding(
            "rasa", ERROR, loc.path, loc.line,
            f"Rasa's validation: {message} (fix what it names at this place; `make validate` shows "
            "Rasa's full output)",
        ))
    if done.returncode != 0 and not findings:
        tail = " | ".join(line for line in _ANSI.sub("", output).splitlines()[-8:] if line.strip())
        findings.append(Finding("rasa", ERROR, ".", 0,
                                f"`rasa data validate` failed (exit status {done.returncode}): {tail}"))
    return findings


# -- running -----------------------------------------------------------------------------
CHECKS: List[Callable[[Project], List[Finding]]] = [
    check_yaml,
    check_examples,
    check_responses,
    check_messages,
    check_canned,
    check_kb,
    check_duplicates,
    check_stories,
    check_entities,
    check_regexes,
    check_actions,
]
# Checks whose verdicts are wrong when a domain file does not parse.
DOMAIN_CHECKS = (check_examples, check_responses, check_stories, check_entities, check_actions)


def run_checks(project: Project, rasa: bool = True) -> List[Finding]:
    """Runs ``rasa data validate`` (unless ``rasa`` is false) and every check.

    Returns:
        All findings, sorted by file and line.
    """
    findings = check_rasa(project) if rasa else []
    yaml_errors = check_yaml(project)
    broken_domain = {project.rel(p) for p in project.domain_files()} & {f.path for f in yaml_errors}
    if broken_domain:
        # Without the whole domain every intent, response and slot it defines looks
        # missing: report the broken file, not the hundreds of errors that follow from it.
        findings = [f for f in findings if f.path in broken_domain]
    findings += [
        replace(f, message=f"{f.message}. The checks that need the domain were skipped until this is fixed")
        if f.path in broken_domain else f
        for f in yaml_errors
    ]
    for check in CHECKS:
        if check is check_yaml or (broken_domain and check in DOMAIN_CHECKS):
            continue
        findings += check(project)
    return sorted(dict.fromkeys(findings), key=Finding.sort_key)


def summary(findings: Iterable[Finding]) -> str:
    """``content check: N errors, M warnings``."""
    findings = list(findings)
    errors = sum(f.severity == ERROR for f in findings)
    return f"content check: {errors} errors, {len(findings) - errors} warnings"


def format_findings(findings: Sequence[Finding]) -> str:
    """The report: one ``path:line: severity [kind] message`` line per finding, then the summary."""
    return "\n".join([*(str(f) for f in sorted(findings, key=Finding.sort_key)), summary(findings)])


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Checks a project's content and prints what is wrong.

    Returns:
        1 if there is any error, else 0 (warnings alone pass).
    """
    parser = argparse.ArgumentParser(prog="python -m kesher check-content",
                                     description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--project", type=Path, default=PROJECT_ROOT, help="project folder (default: this one)")
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--skip-rasa", action="store_true", help="do not run `rasa data validate`")
    parser.add_argument("--min-examples", type=int, default=MIN_EXAMPLES,
                        help=f"examples each intent needs per language (default {MIN_EXAMPLES})")
    parser.add_argument("--min-faq-examples", type=int, default=MIN_RETRIEVAL_EXAMPLES,
                        help=f"examples each faq/<topic> needs per language (default {MIN_RETRIEVAL_EXAMPLES})")
    args = parser.parse_args(argv)
    if not args.project.is_dir():
        parser.error(f"{args.project} is not a folder")
    project = Project(args.project, min_examples=args.min_examples, min_retrieval_examples=args.min_faq_examples)
    findings = run_checks(project, rasa=not args.skip_rasa)
    if args.json:
        print(json.dumps([asdict(f) for f in findings], ensure_ascii=False, indent=2))
    else:
        print(format_findings(findings))
    return 1 if any(f.severity == ERROR for f in findings) else 0


if __name__ == "__main__":
    sys.exit(main())
