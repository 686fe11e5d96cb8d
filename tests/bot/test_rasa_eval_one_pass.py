"""``rasa test nlu`` parsing all examples in one run of the graph gives what one parse per example gives.

The project's trained model (trained if there is none) against every seventh example of the
bot's own NLU data, both languages, FAQs included; Rasa's ``get_eval_data`` one message at a
time is the reference.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from rasa.core.agent import Agent
from rasa.shared.nlu.training_data.loading import load_data
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot import rasa_speedups
from core.language import is_hebrew
from core.processes import latest_model
from core.settings import PROJECT_ROOT, Settings
from kesher.cli import train_model

pytestmark = pytest.mark.training


def test_one_pass_gives_every_prediction_and_confidence_of_one_parse_per_example(monkeypatch):
    model = latest_model(Settings.from_env().model_dir) or train_model(Settings.from_env())
    agent = Agent.load(str(model))
    assert agent.processor is not None
    data = load_data(str(Path(PROJECT_ROOT) / "data" / "nlu"))
    examples = data.nlu_examples[::7]
    sample = TrainingData(training_examples=list(examples))
    assert any(is_hebrew(e.get("text")) for e in examples) and any(not is_hebrew(e.get("text")) for e in examples)

    one_by_one = asyncio.run(rasa_speedups._RASA_GET_EVAL_DATA(agent.processor, sample))
    async def one_by_one_again(*args: object, **kwargs: object) -> None:
        raise AssertionError("parsed one message at a time")

    monkeypatch.setattr(agent.processor, "parse_message", one_by_one_again)
    in_one_pass = asyncio.run(rasa_speedups.get_eval_data_in_one_pass(agent.processor, sample))

    assert one_by_one[2] == in_one_pass[2]  # entities: targets, predictions and tokens alike
    for reference, ours in zip(one_by_one[:2], in_one_pass[:2], strict=True):  # intents, then FAQ answers
        assert len(reference) == len(ours) == len(examples)
        assert any(getattr(r, "intent_response_key_target", "") or getattr(r, "intent_target", "") for r in ours)
        for a, b in zip(reference, ours, strict=True):
            assert (a.message, a.intent_target if hasattr(a, "intent_target") else a.intent_response_key_target) == (
                b.message, b.intent_target if hasattr(b, "intent_target") else b.intent_response_key_target)
            predicted = "intent_prediction" if hasattr(a, "intent_prediction") else "intent_response_key_prediction"
            assert getattr(a, predicted) == getattr(b, predicted), a.message
            assert a.confidence == pytest.approx(b.confidence, abs=1e-5), a.message
    assert sum(r.intent_target == r.intent_prediction for r in in_one_pass[0]) > 0.8 * len(examples)
