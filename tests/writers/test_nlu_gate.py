"""The NLU quality gate on held-out splits of the bot's own examples (trains a model per split)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from core.settings import Settings
from writers.nlu_gate import (
    GATE_PROCESSES,
    SPLIT_SEEDS,
    THRESHOLDS,
    _gate_env,
    by_language,
    gate_processes,
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


def test_each_gate_process_trains_on_its_own_cache_beside_the_settings_one(tmp_path: Path) -> None:
    """Rasa's cache evicts as it writes: two processes on one cache could delete what the other reads."""
    settings = Settings().replace(rasa_cache_dir=tmp_path / "cache")
    caches = [Path(_gate_env(settings, lane)["RASA_CACHE_DIRECTORY"]) for lane in range(GATE_PROCESSES)]
    assert caches == [tmp_path / "gate-cache", tmp_path / "gate-cache-2"][:GATE_PROCESSES]


@pytest.mark.parametrize(("cores", "load", "processes"), [(2, 0.2, 2), (2, 1.2, 1), (8, 5.0, 2), (1, 0.0, 1)])
def test_the_draws_run_side_by_side_only_when_a_core_is_free(monkeypatch: pytest.MonkeyPatch, cores: int,
                                                             load: float, processes: int) -> None:
    monkeypatch.setattr(os, "cpu_count", lambda: cores)
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert gate_processes(len(SPLIT_SEEDS)) == processes
    assert gate_processes(1) == 1
