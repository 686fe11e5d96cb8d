"""The NLU gate holds each language to its own floors: a weak language fails even when the average passes."""

from __future__ import annotations

from writers.nlu_gate import THRESHOLDS, GateResult, _apply_thresholds


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
