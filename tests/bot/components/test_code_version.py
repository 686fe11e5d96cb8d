"""Rasa's training cache retrains the classifiers when their helper modules change, not only their classes."""

from __future__ import annotations

import inspect
from pathlib import Path
from types import ModuleType
from typing import Any, Type

import pytest
from rasa.engine.training.fingerprinting import calculate_fingerprint_key

from bot.components import code_version, linear
from bot.components.faq_selector import FaqSelector
from bot.components.intent_classifier import BlankSafeLogisticRegressionClassifier


def _key(component: Type[Any]) -> str:
    return calculate_fingerprint_key(component, component.get_default_config(), {})


@pytest.mark.parametrize("component", [BlankSafeLogisticRegressionClassifier, FaqSelector])
def test_an_edit_of_the_linear_model_changes_the_classifiers_cache_key(
        component: Type[Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    before = _key(component)
    assert _key(component) == before  # the same code: the same key, so the cache is used
    edited = tmp_path / "linear.py"
    edited.write_text(Path(inspect.getfile(linear)).read_text() + "\n# a changed line\n")
    real_getfile = inspect.getfile

    def getfile(module: ModuleType) -> str:
        return str(edited) if module is linear else real_getfile(module)

    monkeypatch.setattr(code_version.inspect, "getfile", getfile)
    assert _key(component) != before
