"""An NLU step that bounds how much of one message the pipeline reads.

A customer who pastes 10,000 characters still gets an answer in the usual
time: the tokenizer, featurizers and classifiers see only the first
``max_chars`` characters. The tracker keeps the whole message, so an agent
reading the transcript loses nothing.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

__all__ = ["TextLimiter"]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_TOKENIZER], is_trainable=False)
class TextLimiter(GraphComponent):
    """Cuts a message's text to ``max_chars`` before tokenization."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """``max_chars``: the longest text the pipeline reads."""
        return {"max_chars": 2000}

    def __init__(self, config: Dict[str, Any]) -> None:
        """Reads the limit from the component's config."""
        self.max_chars = int(config["max_chars"])
        if self.max_chars < 1:
            raise ValueError("TextLimiter max_chars must be positive")

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> TextLimiter:
        """Creates the component (Rasa's graph API)."""
        return cls(config)

    def _limit(self, message: Message) -> None:
        text = message.get(TEXT)
        if isinstance(text, str) and len(text) > self.max_chars:
            cut = text[: self.max_chars]
            # Do not end inside a word: the last partial word would be noise.
            message.set(TEXT, cut.rsplit(" ", 1)[0] if " " in cut[-50:] else cut)

    def process(self, messages: List[Message]) -> List[Message]:
        """Bounds incoming messages."""
        for message in messages:
            self._limit(message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Bounds training examples the same way (they are short in practice)."""
        for message in training_data.training_examples:
            self._limit(message)
        return training_data
