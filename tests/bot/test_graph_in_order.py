"""The model's graph run node by node in order gives what dask's run gives: parses and next actions.

The project's trained model (trained if there is none): the NLU on messages of both languages and odd
ones, and the policies' next action after each of a short conversation's turns, each through
:func:`bot.rasa_speedups.run_in_order` and through Rasa's own dask runner.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

import pytest
from rasa.core.agent import Agent
from rasa.core.channels.channel import UserMessage
from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker

from bot import rasa_speedups
from core.processes import latest_model
from core.settings import Settings
from kesher.cli import train_model

pytestmark = pytest.mark.training

_MESSAGES = ["hi there", "where is my order?", "104610", "can I pay with paypal", "שלום, אפשר לשלם בביט?",
             "are your candles vegan?", "", "🙂🙂", "thanks, bye"]


def _parse(processor: Any, text: str, tracker: DialogueStateTracker) -> Dict[str, Any]:
    parsed = processor._parse_message_with_graph(UserMessage(text), tracker, only_output_properties=False)
    return {key: parsed.get(key) for key in ("intent", "intent_ranking", "entities", "response_selector")}


def test_in_order_runs_give_dasks_parses_and_next_actions(monkeypatch):
    assert rasa_speedups.install()
    model = latest_model(Settings.from_env().model_dir) or train_model(Settings.from_env())
    processor = Agent.load(str(model)).processor
    assert processor is not None
    ours: List[Tuple[str, Dict[str, Any], str, float, Optional[str]]] = []
    theirs: List[Tuple[str, Dict[str, Any], str, float, Optional[str]]] = []
    for runner in (rasa_speedups.run_in_order, rasa_speedups._DASK_RUN):
        monkeypatch.setattr(DaskGraphRunner, "run", runner)
        tracker = DialogueStateTracker("in-order", processor.domain.slots)
        tracker.update(ActionExecuted("action_listen"))
        found = ours if runner is rasa_speedups.run_in_order else theirs
        for text in _MESSAGES:
            parsed = _parse(processor, text, tracker)
            tracker.update(UserUttered(text, parsed["intent"], parsed["entities"], parsed))
            prediction = processor._predict_next_with_tracker(tracker)
            found.append((text, parsed, processor.domain.action_names_or_texts[prediction.max_confidence_index],
                          prediction.max_confidence, prediction.policy_name))
            tracker.update(ActionExecuted("action_listen"))
    assert len(ours) == len(theirs) == len(_MESSAGES)
    assert {found[2] for found in ours} - {"action_listen"}, "the conversation ran no action at all"
    for (text, parsed, action, confidence, policy), (_, parsed_d, action_d, confidence_d, policy_d) in zip(
            ours, theirs, strict=True):
        assert parsed["intent"]["name"] == parsed_d["intent"]["name"], text
        assert parsed["intent"]["confidence"] == pytest.approx(parsed_d["intent"]["confidence"], abs=1e-9), text
        assert [r["name"] for r in parsed["intent_ranking"]] == [r["name"] for r in parsed_d["intent_ranking"]]
        assert parsed["entities"] == parsed_d["entities"], text
        faq, faq_d = (((p or {}).get("faq") or {}).get("response") or {} for p in (parsed["response_selector"],
                                                                                   parsed_d["response_selector"]))
        assert faq.get("intent_response_key") == faq_d.get("intent_response_key"), text
        assert faq.get("confidence") == pytest.approx(faq_d.get("confidence")), text
        assert (action, policy) == (action_d, policy_d) and confidence == pytest.approx(confidence_d), text

    monkeypatch.setattr(DaskGraphRunner, "run", rasa_speedups.run_in_order)
    target = processor.model_metadata.nlu_target
    with pytest.raises(GraphRunError, match="clashes with a node name"):
        processor.graph_runner.run(inputs={"__message__": target}, targets=[target])
