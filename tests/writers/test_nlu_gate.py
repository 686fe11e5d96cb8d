"""The NLU quality gate on a held-out split of the bot's own examples (trains a model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from writers.nlu_gate import THRESHOLDS, run_gate, split_by_language

pytestmark = pytest.mark.training


def test_nlu_gate(tmp_path: Path):
    result = run_gate(tmp_path)  # prints the per-intent F1 table
    assert len(result.intent_f1) >= 17 and all(n > 0 for n in result.intent_support.values())
    assert result.passed, result.failures
    assert set(result.macro_f1_by_language) == {"he", "en"}
    assert THRESHOLDS["intent_macro_f1"] <= result.macro_f1


def test_held_out_examples_are_split_by_script(tmp_path: Path):
    test_file = tmp_path / "test_data.yml"
    test_file.write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hello\n    - שלום\n    - hi שלום\n',
        encoding="utf-8",
    )
    files = split_by_language(test_file, tmp_path)
    assert "hello" in files["en"].read_text(encoding="utf-8")
    he = files["he"].read_text(encoding="utf-8")
    assert "שלום" in he and "hello" not in he
