"""Adds a training example to the right NLU file, keeping the file's comments and order.

Examples live in ``data/nlu/<language>/*.yml`` under ``- intent: X`` /
``examples: |``. The project reader (:class:`writers.project.Project`) finds
the file that has the intent's block in that language; the example is
appended to that block with ruamel.yaml's round trip, so everything else in
the file stays as the writer left it. An intent the language has no block for
yet gets one at the end of ``core.yml`` (``faq.yml`` for ``faq/...`` intents).

Two writers may add at the same moment (two browser tabs, two replicas): the
whole read-check-write holds an exclusive ``fcntl.flock`` on
``data/nlu/.add-example.lock``, and the file is replaced atomically (written
to a temporary file beside it, flushed, then ``os.replace``), so no example is
lost and a reader never sees half a file.
"""

from __future__ import annotations

import fcntl
import os
import tempfile
from contextlib import contextmanager
from io import StringIO
from pathlib import Path
from typing import Any, Iterator, Tuple

from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import LiteralScalarString

from core.language import LANGUAGES
from writers.project import Project, normalize_example

__all__ = ["LOCK_NAME", "MAX_EXAMPLE_CHARS", "ExampleError", "add_example", "examples_lock", "write_atomically"]

MAX_EXAMPLE_CHARS = 300
LOCK_NAME = ".add-example.lock"


class ExampleError(ValueError):
    """The example cannot be added (unknown language, empty, a duplicate)."""


def _yaml() -> YAML:
    yaml = YAML()  # round trip: comments, order and quoting are kept
    yaml.indent(mapping=2, sequence=2, offset=0)
    yaml.width = 4096  # type: ignore[assignment]
    yaml.preserve_quotes = True  # type: ignore[assignment]
    return yaml


def _target(project: Project, intent: str, language: str) -> Path:
    """The file to add to: the language's main file if it has the intent's block, else another file that has it.

    ``core.yml`` / ``faq.yml`` come first: ``as_typed.yml`` holds some intents' examples too and sorts before
    them. With no block in the language, the main file (or the language's first NLU file).

    Raises:
        ExampleError: The text is already an example (of any intent) in that language.
    """
    blocks = [b for b in project.intent_blocks if b.language == language]
    suggested = project.root / project.nlu_file_for(intent, language)
    existing = [project.root / b.path for b in blocks if b.intent == intent]
    if suggested in existing:
        return suggested
    if existing:
        return existing[0]
    if suggested.is_file():
        return suggested
    return project.root / blocks[0].path if blocks else suggested


def _append(data: Any, intent: str, line: str) -> Any:
    """The NLU document with ``line`` added under ``- intent: <intent>`` (a new block at the end if none)."""
    if not isinstance(data, CommentedMap):
        data = CommentedMap([("version", "3.1")])
    items = data.get("nlu")
    if not isinstance(items, CommentedSeq):
        items = data["nlu"] = CommentedSeq()
    item = next((i for i in items if isinstance(i, CommentedMap) and i.get("intent") == intent), None)
    if item is None:
        item = CommentedMap([("intent", intent), ("examples", LiteralScalarString(""))])
        items.append(item)
    current = str(item.get("examples") or "")
    if current and not current.endswith("\n"):
        current += "\n"
    item["examples"] = LiteralScalarString(f"{current}- {line}\n")
    return data


@contextmanager
def examples_lock(project: Path) -> Iterator[None]:
    """Holds the project's exclusive "add example" lock (``data/nlu/.add-example.lock``) while inside.

    A blocking ``flock``: call it in a worker thread, never on an event loop.
    """
    folder = project / "data" / "nlu"
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / LOCK_NAME, "a+b") as handle:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def write_atomically(path: Path, text: str) -> None:
    """Replaces ``path`` with ``text`` all at once: a temporary file beside it, flushed, then ``os.replace``.

    The file keeps its permissions; on any failure it is left as it was.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
            out.flush()
            os.fsync(out.fileno())
        os.chmod(tmp, (path.stat().st_mode & 0o777) if path.exists() else 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


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
    with examples_lock(project):  # read, check and write as one step
        reader = Project(project)
        wanted = normalize_example(line)
        for block in reader.intent_blocks:
            if block.language == language and any(normalize_example(e.text) == wanted for e in block.examples):
                raise ExampleError(f"“{line}” is already an example of {block.intent} in {Path(block.path).name}")
        path = _target(reader, intent, language)
        yaml = _yaml()
        data = yaml.load(path.read_text(encoding="utf-8")) if path.is_file() else None
        out = StringIO()
        yaml.dump(_append(data, intent, line), out)
        text = out.getvalue()
        write_atomically(path, text)
    return path, max(i for i, row in enumerate(text.splitlines(), start=1) if row.strip() == f"- {line}")
