"""The NLU reads at most `max_chars` of a message, cut at a word boundary."""

from __future__ import annotations

import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.text_limit import TextLimiter


def test_long_messages_are_cut_at_a_word_boundary():
    limiter = TextLimiter({"max_chars": 50})
    message = Message({TEXT: "where is my order " * 20})
    limiter.process([message])
    assert len(message.get(TEXT)) <= 50
    assert message.get(TEXT).split()[-1] in {"where", "is", "my", "order"}  # no half word


def test_short_messages_and_training_data_are_untouched():
    limiter = TextLimiter({"max_chars": 50})
    short = Message({TEXT: "איפה ההזמנה שלי"})
    limiter.process([short])
    assert short.get(TEXT) == "איפה ההזמנה שלי"
    data = TrainingData([Message({TEXT: "x" * 60, "intent": "greet"})])
    limiter.process_training_data(data)
    assert len(data.training_examples[0].get(TEXT)) == 50


def test_the_limit_must_be_positive():
    with pytest.raises(ValueError):
        TextLimiter({"max_chars": 0})
