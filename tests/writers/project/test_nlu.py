"""Training examples: blocks with their lines, annotations, and sentences compared as a customer types them."""

from __future__ import annotations

from pathlib import Path

from writers.project import entity_names, normalize_example, plain_example, read_nlu_file


def test_normalize_example():
    assert normalize_example("  Where is  order [123456](order_id)?! ") == "where is order 123456"
    assert normalize_example('Mail [a@b.co]{"entity": "email"}.') == "mail a@b.co"
    assert normalize_example("שלום, מה נשמע?") == "שלום, מה נשמע"


def test_annotations():
    text = 'order [123456](order_id) to [Haifa]{"entity": "city", "value": "haifa"} [x](kind:y)'
    assert plain_example(text) == "order 123456 to Haifa x"
    assert entity_names(text) == ["order_id", "city", "kind"]


def test_an_nlu_file_read_outside_a_project(tmp_path: Path):
    path = tmp_path / "test_data.yml"
    path.write_text('version: "3.1"\nnlu:\n- regex: n\n  examples: |\n    - \\d+\n- intent: greet\n  examples: |\n'
                    "    - hello\n\n    - שלום\n- intent: bye\n  examples:\n  - text: bye now\n", encoding="utf-8")
    blocks = read_nlu_file(path, "en")
    assert [(b.intent, b.line, b.language) for b in blocks] == [("greet", 6, "en"), ("bye", 11, "en")]
    assert [(e.text, e.line) for e in blocks[0].examples] == [("hello", 8), ("שלום", 10)]
    assert [(e.text, e.line) for e in blocks[1].examples] == [("bye now", 13)]
