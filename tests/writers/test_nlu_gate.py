"""The NLU quality gate on held-out splits of the bot's own examples (trains a model per split)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from writers.nlu_gate import (
    SPLIT_SEEDS,
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
    pooled = []
    for seed in SPLIT_SEEDS:
        # Each draw's per-example predictions give Rasa's own figures for that draw.
        results = tmp_path / f"results-{seed}"
        rows = held_out_predictions(results, "intent", "intent", "intent_prediction")
        report = json.loads((results / "intent_report.json").read_text())
        assert abs(language_macro_f1(rows) - report["macro avg"]["f1-score"]) < 1e-9
        answers = held_out_predictions(results, "response_selection", "intent_response_key_target",
                                       "intent_response_key_prediction")
        faq = json.loads((results / "response_selection_report.json").read_text())
        assert abs(language_accuracy(answers) - faq.get("accuracy", faq.get("micro avg", {}).get("f1-score"))) < 1e-9
        pooled += rows
        split = by_language(rows)
        assert split["he"] and split["en"] and len(split["he"]) + len(split["en"]) == len(rows)
    # The gate's figures are over the draws pooled.
    assert len(pooled) == sum(result.intent_support.values())
    assert abs(language_macro_f1(pooled) - result.macro_f1) < 1e-9

