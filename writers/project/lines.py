"""YAML that remembers where things are: mappings and lists that know the line of each key and item.

PyYAML's C parser builds the nodes (the content check and the flow charts read
every project file on each run, so speed matters); the constructors below keep
each node's line, and note a key written twice in one mapping, which PyYAML
would otherwise silently collapse to its last value.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Iterator, List, Optional, Tuple

import yaml

__all__ = ["DuplicateKey", "YamlList", "YamlMap", "item_line", "key_line", "load_yaml"]


class YamlMap(Dict[Any, Any]):
    """A mapping read from YAML: ``line`` is where it starts, :meth:`line_of` where each key is."""

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line
        self.key_lines: Dict[Any, int] = {}

    def line_of(self, key: Any, default: int = 0) -> int:
        """1-based line of ``key`` (``default`` when the mapping has no such key)."""
        return self.key_lines.get(key, default)


class YamlList(List[Any]):
    """A list read from YAML: ``line`` is where it starts, :meth:`line_at` where each item is."""

    def __init__(self, line: int = 0) -> None:
        super().__init__()
        self.line = line
        self.item_lines: List[int] = []

    def line_at(self, index: int, default: int = 0) -> int:
        """1-based line of the item at ``index`` (``default`` when there is none)."""
        return self.item_lines[index] if 0 <= index < len(self.item_lines) else default


def key_line(mapping: Any, key: Any, default: int = 0) -> int:
    """1-based line of a key in a mapping read by :func:`load_yaml` (``default`` for anything else)."""
    return mapping.line_of(key, default) if isinstance(mapping, YamlMap) else default


def item_line(sequence: Any, index: int, default: int = 0) -> int:
    """1-based line of an item in a list read by :func:`load_yaml` (``default`` for anything else)."""
    return sequence.line_at(index, default) if isinstance(sequence, YamlList) else default


@dataclass(frozen=True)
class DuplicateKey:
    """A key written twice in one mapping: the value on ``line`` replaces the one on ``first_line``."""

    key: str
    first_line: int
    line: int


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicates: List[DuplicateKey] = []


def _construct_map(loader: _Loader, node: yaml.MappingNode) -> Iterator[YamlMap]:
    data = YamlMap(node.start_mark.line + 1)
    yield data
    loader.flatten_mapping(node)
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            hash(key)
        except TypeError as exc:
            raise yaml.constructor.ConstructorError(
                "while constructing a mapping", node.start_mark, "found an unhashable key", key_node.start_mark
            ) from exc
        line = key_node.start_mark.line + 1
        if key in data.key_lines:
            loader.duplicates.append(DuplicateKey(str(key), data.key_lines[key], line))
        data.key_lines[key] = line
        data[key] = loader.construct_object(value_node)


def _construct_seq(loader: _Loader, node: yaml.SequenceNode) -> Iterator[YamlList]:
    data = YamlList(node.start_mark.line + 1)
    yield data
    data.extend(loader.construct_object(child) for child in node.value)
    data.item_lines = [child.start_mark.line + 1 for child in node.value]


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)
_Loader.add_constructor("tag:yaml.org,2002:seq", _construct_seq)


def load_yaml(text: str) -> Tuple[Optional[Any], List[DuplicateKey]]:
    """Reads one YAML document with the lines of its keys and items.

    Args:
        text: The document.

    Returns:
        Its data (:class:`YamlMap` and :class:`YamlList` for mappings and lists;
        None for an empty document) and the keys written twice in one mapping.

    Raises:
        yaml.YAMLError: The text is not YAML (``problem_mark`` says where).
    """
    loader = _Loader(text)
    try:
        return loader.get_single_data(), loader.duplicates
    finally:
        loader.dispose()
