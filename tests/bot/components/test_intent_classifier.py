"""Blank messages are 'not understood' instead of crashing the classifier."""

from __future__ import annotations

from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.intent_classifier import BlankSafeLogisticRegressionClassifier


def test_blank_messages_become_nlu_fallback(tmp_path):
    component = BlankSafeLogisticRegressionClassifier.create(
        BlankSafeLogisticRegressionClassifier.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("intent_classifier"),
        ExecutionContext(GraphSchema({}), "test"),
    )
    messages = [Message({TEXT: ""}), Message({TEXT: "  \n "})]
    component.process(messages)  # an untrained classifier: only blank messages may reach it
    for message in messages:
        assert message.get("intent") == {"name": "nlu_fallback", "confidence": 1.0}
