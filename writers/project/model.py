"""What the project reader gives: the pieces of a Rasa project, each with the file and line it is written on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, List, Optional

from writers.project.lines import YamlMap

__all__ = ["Example", "IntentBlock", "Loc", "StepRef", "StoryBlock", "TextEntry", "YamlProblem"]


@dataclass(frozen=True)
class Loc:
    """Where something is written: a project-relative path and a 1-based line."""

    path: str
    line: int


@dataclass(frozen=True)
class YamlProblem:
    """A YAML file the bot cannot use as written.

    Attributes:
        path: The file, relative to the project.
        line: 1-based line of the problem.
        kind: ``syntax`` (not YAML), ``encoding`` (not UTF-8 text) or ``duplicate-key``.
        detail: What the YAML parser said, or the key written twice.
        first_line: For ``duplicate-key``, the line of the key's first occurrence.
    """

    path: str
    line: int
    kind: str
    detail: str
    first_line: int = 0


@dataclass(frozen=True)
class Example:
    """One training example as written (annotations included) and its line."""

    text: str
    line: int


@dataclass
class IntentBlock:
    """One ``- intent: X`` block of an NLU file.

    Attributes:
        intent: The intent (``faq/<topic>`` for a retrieval intent).
        language: ``he`` or ``en`` from the language folder the file is in; None outside one.
        path: The file, relative to the project.
        line: The line of ``- intent:``.
        examples: Its examples.
    """

    intent: str
    language: Optional[str]
    path: str
    line: int
    examples: List[Example]


@dataclass(frozen=True)
class StoryBlock:
    """One story or rule, as written.

    Attributes:
        kind: ``story`` or ``rule``.
        name: Its ``story:`` / ``rule:`` title ("" when it has none).
        index: Its position in its file's list (0-based).
        path: The file, relative to the project.
        line: The line its entry starts on.
        data: The entry (``steps``, ``condition``, ...).
    """

    kind: str
    name: str
    index: int
    path: str
    line: int
    data: YamlMap


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


@dataclass(frozen=True)
class TextEntry:
    """One key of the text catalog as written (before the catalog interprets it).

    Attributes:
        key: The key.
        path: The file, relative to the project.
        line: The key's line.
        value: What is under the key (``he:`` / ``en:`` when well formed).
    """

    key: str
    path: str
    line: int
    value: Any
