"""What every check shares: a finding, the options writers can tune, and the shape of a check."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, List, Tuple

from writers.project import Project

__all__ = [
    "ERROR",
    "LANGUAGE_NAMES",
    "MIN_EXAMPLES",
    "MIN_RETRIEVAL_EXAMPLES",
    "WARNING",
    "Check",
    "CheckFunction",
    "Finding",
    "Options",
    "quote",
]

ERROR = "error"
WARNING = "warning"
LANGUAGE_NAMES = {"he": "Hebrew", "en": "English"}

# Minimum examples per intent and language. The smallest intents today have 22
# (bot_challenge) and every FAQ question 24 per language. Ordinary intents
# compete with each other in one classifier, and the NLU gate (writers/nlu_gate.py)
# holds out 20 % of them: 20 per language keeps 8 held-out sentences per intent,
# the least that makes its per-intent F1 mean something, while the check still
# passes the current data with a little room. A ``faq/<topic>`` question only
# has to tell its answer apart from the other FAQ answers (the intent
# classifier sees all FAQ questions pooled as ``faq``, over 380 per language),
# so 10 per language is enough for a new topic, which is what docs/writing.md
# tells writers. Both are options (--min-examples, --min-faq-examples).
MIN_EXAMPLES = 20
MIN_RETRIEVAL_EXAMPLES = 10


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
class Options:
    """What a writer can tune from the command line.

    Attributes:
        min_examples: Examples each intent needs per language.
        min_retrieval_examples: Examples each ``faq/<topic>`` needs per language.
    """

    min_examples: int = MIN_EXAMPLES
    min_retrieval_examples: int = MIN_RETRIEVAL_EXAMPLES


CheckFunction = Callable[[Project, Options], List[Finding]]


@dataclass(frozen=True)
class Check:
    """One check of the registry.

    Attributes:
        name: What it checks, in a word.
        run: The check: ``(project, options) -> findings``.
        needs_domain: Its verdicts are wrong when a domain file does not parse, so it is skipped then.
        runs_rasa: It runs ``rasa data validate`` (slow; ``--skip-rasa`` leaves it out).
    """

    name: str
    run: CheckFunction
    needs_domain: bool = False
    runs_rasa: bool = False


def quote(text: str, limit: int = 60) -> str:
    """A text on one line in quotes, cut to ``limit`` characters, for a message."""
    text = " ".join(text.split())
    return f'"{text}"' if len(text) <= limit else f'"{text[:limit - 1]}…"'
