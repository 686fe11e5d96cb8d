"""Training examples: reading ``- intent:`` blocks, and what an example says once its annotations are dropped."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, List, Mapping, Optional

from writers.project.lines import item_line, key_line, load_yaml
from writers.project.model import Example, IntentBlock

__all__ = ["entity_names", "intent_blocks", "normalize_example", "plain_example", "read_nlu_file"]

# [text](entity), [text](entity:value), [text]{"entity": ...}, [text][{...}, {...}]
_ENTITY = re.compile(
    r"\[(?P<text>[^\]]+?)\]"
    r"(?:\((?P<name>[^:)]+?)(?::[^)]*)?\)|\{(?P<dict>[^}]+?)\}|\[(?P<list>\{.*?\})\])"
)
_TRAILING_PUNCTUATION = " \t.,!?;:…"


def plain_example(text: str) -> str:
    """An example as a customer would type it: ``where is [123456](order_id)`` → ``where is 123456``."""
    return _ENTITY.sub(lambda m: m.group("text"), text)


def normalize_example(text: str) -> str:
    """An example's text for comparing: annotations reduced to their text, case and spacing folded.

    Args:
        text: The example as written, e.g. ``Where is order [123456](order_id)?``.

    Returns:
        ``where is order 123456``.
    """
    return " ".join(plain_example(text).lower().split()).rstrip(_TRAILING_PUNCTUATION)


def entity_names(text: str) -> List[str]:
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


def examples_of(item: Mapping[str, Any], block_line: int) -> List[Example]:
    """The examples of an NLU block (``intent``, ``regex``, ``synonym``...), with their lines.

    A ``examples: |`` block's text starts on the line after the key, so the
    n-th line of the text is that many lines further down.
    """
    raw = item.get("examples")
    examples: List[Example] = []
    if isinstance(raw, str):
        first = key_line(item, "examples", block_line) + 1
        for offset, line in enumerate(raw.splitlines()):
            stripped = line.strip()
            if stripped.startswith("-"):
                examples.append(Example(stripped[1:].strip(), first + offset))
    elif isinstance(raw, list):  # examples with metadata: a list of {text: ...}
        for index, entry in enumerate(raw):
            text = entry.get("text") if isinstance(entry, Mapping) else entry
            if isinstance(text, str):
                examples.append(Example(text.strip(), item_line(raw, index, block_line)))
    return examples


def intent_blocks(data: Any, path: str, language: Optional[str]) -> List[IntentBlock]:
    """The ``- intent:`` blocks of one NLU document, in file order.

    Args:
        data: The document, as :func:`load_yaml` reads it.
        path: Its path as shown to writers.
        language: The language of its examples, if known.
    """
    items = data.get("nlu") if isinstance(data, Mapping) else None
    blocks: List[IntentBlock] = []
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, Mapping) and item.get("intent"):
            line = item_line(items, index)
            blocks.append(IntentBlock(str(item["intent"]), language, path, line, examples_of(item, line)))
    return blocks


def read_nlu_file(path: Path, language: Optional[str] = None) -> List[IntentBlock]:
    """The intent blocks of an NLU file outside a project (e.g. one ``rasa data split`` wrote).

    Raises:
        yaml.YAMLError: The file is not YAML.
    """
    data, _ = load_yaml(path.read_text(encoding="utf-8"))
    return intent_blocks(data, path.as_posix(), language)
