"""The NLU quality gate on a held-out split of the bot's own examples (trains a model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from writers.nlu_gate import (
    THRESHOLDS,
    by_language,
    held_out_predictions,
    language_accuracy,
    language_macro_f1,
    run_gate,
)

pytestmark = pytest.mark.training


def test_nlu_gate(tmp_path: Path):
    result = run_gate(tmp_path)  # prints the per-intent F1 table
    assert len(result.intent_f1) >= 17 and all(n > 0 for n in result.intent_support.values())
    assert result.passed, result.failures
    assert set(result.macro_f1_by_language) == {"he", "en"}
    assert THRESHOLDS["intent_macro_f1"] <= result.macro_f1
    # The per-language figures come from the per-example predictions; over all of them, they are Rasa's own.
    rows = held_out_predictions(tmp_path / "results", "intent", "intent", "intent_prediction")
    assert len(rows) == sum(result.intent_support.values())
    assert abs(language_macro_f1(rows) - result.macro_f1) < 1e-9
    answers = held_out_predictions(tmp_path / "results", "response_selection", "intent_response_key_target",
                                   "intent_response_key_prediction")
    assert abs(language_accuracy(answers) - result.faq_accuracy) < 1e-9
    split = by_language(rows)
    assert split["he"] and split["en"] and len(split["he"]) + len(split["en"]) == len(rows)
