"""YAML with lines: each key and item knows its line; a key written twice is noted, not silently dropped."""

from __future__ import annotations

import pytest
import yaml

from writers.project import YamlList, YamlMap, item_line, key_line, load_yaml

DOCUMENT = """\
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
- intent: bye
  examples: |
    - bye
base: &base
  a: 1
merged:
  <<: *base
  b: 2
"""


def test_keys_and_items_know_their_lines():
    data, duplicates = load_yaml(DOCUMENT)
    assert duplicates == []
    assert isinstance(data, YamlMap) and isinstance(data["nlu"], YamlList)
    assert (data.line_of("version"), data.line_of("nlu"), data.line_of("merged")) == (1, 2, 11)
    assert [data["nlu"].line_at(i) for i in range(2)] == [3, 6]
    assert data["nlu"][1].line_of("examples") == 7
    assert data["merged"] == {"a": 1, "b": 2}
    assert key_line(data, "missing", 42) == 42 and item_line(data["nlu"], 5, 7) == 7
    assert key_line({"plain": 1}, "plain") == 0  # a mapping not read here has no lines


def test_a_key_written_twice_is_noted():
    data, duplicates = load_yaml("a: 1\nb:\n  c: 2\n  c: 3\na: 4\n")
    assert data == {"a": 4, "b": {"c": 3}}
    assert sorted((d.line, d.first_line, d.key) for d in duplicates) == [(4, 3, "c"), (5, 1, "a")]


def test_not_yaml_says_where():
    with pytest.raises(yaml.MarkedYAMLError) as raised:
        load_yaml("a:\n  - b\n c: [\n")
    assert raised.value.problem_mark is not None and raised.value.problem_mark.line + 1 == 3


def test_an_empty_document():
    assert load_yaml("") == (None, [])
