"""The NLU gate holds each language to its own floors: a weak language fails even when the average passes."""

from __future__ import annotations

import json
from pathlib import Path

from writers.nlu_gate import (
    THRESHOLDS,
    GateResult,
    _apply_thresholds,
    by_language,
    held_out_predictions,
    language_accuracy,
    language_macro_f1,
)


def _result(he_f1: float, en_f1: float, he_faq: float, en_faq: float) -> GateResult:
    return GateResult(
        intent_f1={"greet": 0.95, "faq": 0.95},
        intent_support={"greet": 10, "faq": 100},
        macro_f1=0.95,
        macro_f1_by_language={"he": he_f1, "en": en_f1},
        faq_accuracy=0.97,
        faq_accuracy_by_language={"he": he_faq, "en": en_faq},
    )


def test_both_languages_above_their_floors_pass():
    result = _result(0.99, 0.99, 0.99, 0.99)
    _apply_thresholds(result)
    assert result.passed, result.failures


def test_one_weak_language_fails_the_gate_by_name():
    result = _result(THRESHOLDS["intent_macro_f1_he"] - 0.01, 0.99, 0.99, THRESHOLDS["faq_accuracy_en"] - 0.01)
    _apply_thresholds(result)
    assert len(result.failures) == 2
    assert result.failures[0].startswith("he intent macro F1")
    assert result.failures[1].startswith("en FAQ answer accuracy")
    assert "FAILED" in result.table()


def test_each_language_is_scored_on_its_own_examples(tmp_path: Path):
    def entry(text: str, intent: str, guess: str) -> dict:
        return {"text": text, "intent": intent, "intent_prediction": {"name": guess, "confidence": 0.9}}

    (tmp_path / "intent_successes.json").write_text(json.dumps(
        [entry("hello", "greet", "greet"), entry("שלום", "greet", "greet"), entry("bye", "goodbye", "goodbye")]))
    (tmp_path / "intent_errors.json").write_text(json.dumps(
        [entry("להתראות", "goodbye", "greet"), entry("hi שלום", "greet", "goodbye")]))
    split = by_language(held_out_predictions(tmp_path, "intent", "intent", "intent_prediction"))
    assert [text for text, _, _ in split["en"]] == ["hello", "bye"]
    assert language_macro_f1(split["en"]) == 1.0
    # Hebrew: one greeting right, one wrong, a farewell taken for a greeting
    assert [text for text, _, _ in split["he"]] == ["שלום", "להתראות", "hi שלום"]
    assert language_accuracy(split["he"]) == 1 / 3
    assert 0.0 < language_macro_f1(split["he"]) < 0.5
    # No response-selection files (nothing held out for the FAQ): nothing missed
    assert language_accuracy(held_out_predictions(tmp_path, "response_selection", "a", "b")) == 1.0
