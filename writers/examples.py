"""Adds a training example to the right NLU file, keeping the file's comments and order.

Examples live in ``data/nlu/<language>/*.yml`` under ``- intent: X`` /
``examples: |``. The example is appended to that block with ruamel.yaml's
round trip, so everything else in the file stays as the writer left it. An
intent the language has no block for yet gets one at the end of ``core.yml``
(``faq.yml`` for ``faq/...`` intents).
"""

from __future__ import annotations

from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import List, Optional, Tuple

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from writers.content_check import normalize_example as normalize

__all__ = ["ExampleError", "NluFile", "add_example"]

LANGUAGES = ("he", "en")
MAX_EXAMPLE_CHARS = 300


class ExampleError(ValueError):
    """The example cannot be added (unknown language, empty, a duplicate)."""


def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments, order and quoting are kept
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.width = 4096  # type: ignore[assignment]
    yaml.preserve_quotes = True  # type: ignore[assignment]
    return yaml


@dataclass
class NluFile:
    """One NLU file, loaded for a round trip."""

    path: Path
    data: CommentedMap

    @classmethod
    def load(cls, path: Path) -> NluFile:
        """Reads ``path`` keeping its comments."""
        return cls(path, _yaml().load(path.read_text(encoding="utf-8")))

    def block(self, intent: str) -> Optional[CommentedMap]:
        """The ``- intent: X`` item, if the file has one."""
        for item in self.data.get("nlu") or []:
            if isinstance(item, CommentedMap) and item.get("intent") == intent:
                return item
        return None

    def examples(self, intent: str) -> List[str]:
        """The intent's examples in this file."""
        item = self.block(intent)
        return _lines(str(item.get("examples") or "")) if item is not None else []

    def save(self) -> None:
        """Writes the file back."""
        out = StringIO()
        _yaml().dump(self.data, out)
        self.path.write_text(out.getvalue(), encoding="utf-8")


def _lines(block: str) -> List[str]:
    return [line.strip()[2:].strip() for line in block.splitlines() if line.strip().startswith("- ")]


def add_example(project: Path, intent: str, language: str, text: str) -> Tuple[Path, int]:
    """Adds ``text`` as an example of ``intent`` in ``language``.

    Args:
        project: The project root (``data/nlu/<language>/`` below it).
        intent: The intent (``faq/<name>`` for an FAQ).
        language: ``he`` or ``en``.
        text: The customer's wording (one line; personal data already masked).

    Returns:
        The file written and the 1-based line of the new example.

    Raises:
        ExampleError: Unknown language, an empty or too long text, or already an example of an intent.
    """
    if language not in LANGUAGES:
        raise ExampleError(f"language must be one of {', '.join(LANGUAGES)}")
    line = " ".join(text.split())
    if not line:
        raise ExampleError("the example is empty")
    if len(line) > MAX_EXAMPLE_CHARS:
        raise ExampleError(f"an example may have at most {MAX_EXAMPLE_CHARS} characters")
    folder = project / "data" / "nlu" / language
    files = [NluFile.load(p) for p in sorted(folder.glob("*.yml"))]
    wanted = normalize(line)
    for nlu in files:
        for item in nlu.data.get("nlu") or []:
            if isinstance(item, CommentedMap) and "intent" in item:
                if wanted in (normalize(e) for e in _lines(str(item.get("examples") or ""))):
                    raise ExampleError(f"“{line}” is already an example of {item['intent']} in {nlu.path.name}")
    target = next((nlu for nlu in files if nlu.block(intent) is not None), None)
    if target is None:
        name = "faq.yml" if intent.startswith("faq/") else "core.yml"
        target = next((nlu for nlu in files if nlu.path.name == name), None) or files[0]
        items: CommentedSeq = target.data.setdefault("nlu", CommentedSeq())
        items.append(CommentedMap([("intent", intent), ("examples", LiteralScalarString(""))]))
    item = target.block(intent)
    assert item is not None
    current = str(item.get("examples") or "")
    if current and not current.endswith("\n"):
        current += "\n"
    item["examples"] = LiteralScalarString(f"{current}- {line}\n")
    target.save()
    written = target.path.read_text(encoding="utf-8").splitlines()
    number = max(i for i, row in enumerate(written, start=1) if row.strip() == f"- {line}")
    return target.path, number
