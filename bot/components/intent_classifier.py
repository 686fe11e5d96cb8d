"""Rasa's logistic-regression intent classifier, made safe for empty messages.

Rasa 3.6's ``LogisticRegressionClassifier`` fails on a message with no tokens
(an empty or all-blank message gives it no features), and the REST channel
then answers nothing. Such a message is treated as not understood instead:
its intent is ``nlu_fallback``, so the two-stage fallback asks the customer to
say it again.
"""

from __future__ import annotations

from typing import List

from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import INTENT, INTENT_RANKING_KEY, TEXT
from rasa.shared.nlu.training_data.message import Message

__all__ = ["BlankSafeLogisticRegressionClassifier"]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class BlankSafeLogisticRegressionClassifier(LogisticRegressionClassifier):
    """``LogisticRegressionClassifier`` that answers blank messages with ``nlu_fallback``."""

    def process(self, messages: List[Message]) -> List[Message]:
        """Classifies messages that have words; marks the others as not understood."""
        blank = [m for m in messages if not str(m.get(TEXT) or "").strip()]
        words = [m for m in messages if str(m.get(TEXT) or "").strip()]
        for message in blank:
            intent = {"name": DEFAULT_NLU_FALLBACK_INTENT_NAME, "confidence": 1.0}
            message.set(INTENT, intent, add_to_output=True)
            message.set(INTENT_RANKING_KEY, [intent], add_to_output=True)
        if words:
            super().process(words)
        return messages
