"""The n-gram featurizer gives each message the sentence row Rasa's featurizer gave it, and nothing else."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional, Type

import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.nlu.tokenizers.whitespace_tokenizer import WhitespaceTokenizer
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, FEATURE_TYPE_SEQUENCE, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.count_vectors import SentenceCountVectorsFeaturizer
from tests.bot.components.pipeline import Pipeline, training_data

CONFIGS = {"words": {}, "chars": {"analyzer": "char_wb", "min_ngram": 2, "max_ngram": 5}}
NEW_TEXTS = ["where is my order 104610?", "מתי אתם פתוחים בשישי", "hello שלום return policy", "📦📦",
             "unseenword xyzzy", "WHERE IS MY ORDER", "", "?!"]


def _trained(kind: Type[CountVectorsFeaturizer], name: str, config: Dict[str, Any], storage: Path) -> Any:
    storage.mkdir(parents=True, exist_ok=True)
    featurizer = kind.create({**kind.get_default_config(), **config}, LocalModelStorage(storage),
                             Resource(name), Pipeline.context(name))
    data = training_data()
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process_training_data(data)
    featurizer.train(data)
    return featurizer


def _messages(texts: List[str]) -> List[Message]:
    messages = [Message({TEXT: text}) for text in texts]
    WhitespaceTokenizer(WhitespaceTokenizer.get_default_config()).process(messages)
    return messages


def _row(message: Message, kind: str) -> Optional[np.ndarray]:
    rows = [f.features for f in message.features if f.attribute == TEXT and f.type == kind]
    return np.asarray(rows[0].toarray()) if rows else None


def _counts(message: Message) -> np.ndarray:
    row = _row(message, FEATURE_TYPE_SENTENCE)
    assert row is not None, message.get(TEXT)
    return row


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_each_message_gets_the_sentence_row_rasa_gave_it(name: str, tmp_path: Path):
    ours = _trained(SentenceCountVectorsFeaturizer, name, CONFIGS[name], tmp_path / "ours")
    rasas = _trained(CountVectorsFeaturizer, name, CONFIGS[name], tmp_path / "rasa")
    texts = [m.get(TEXT) for m in training_data().training_examples] + NEW_TEXTS
    mine, theirs = _messages(texts), _messages(texts)
    ours.process(mine)  # all at once
    for message in theirs:  # as Rasa's does, one by one
        rasas.process([message])
    for text, a, b in zip(texts, mine, theirs, strict=True):
        expected, got = _row(b, FEATURE_TYPE_SENTENCE), _row(a, FEATURE_TYPE_SENTENCE)
        assert (got is None) == (expected is None), text
        assert expected is None or np.array_equal(_counts(a), expected), text
        assert _row(a, FEATURE_TYPE_SEQUENCE) is None, "no per-token matrix: nothing reads it"
    assert sum(_counts(m).sum() > 0 for m in mine[-len(NEW_TEXTS):] if m.get(TEXT)) >= 4


def test_the_loaded_featurizer_gives_the_same_rows(tmp_path: Path):
    trained = _trained(SentenceCountVectorsFeaturizer, "chars", CONFIGS["chars"], tmp_path)
    loaded = SentenceCountVectorsFeaturizer.load(
        {**SentenceCountVectorsFeaturizer.get_default_config(), **CONFIGS["chars"]}, LocalModelStorage(tmp_path),
        Resource("chars"), Pipeline.context("chars"))
    before, after = _messages(NEW_TEXTS), _messages(NEW_TEXTS)
    trained.process(before)
    loaded.process(after)
    for text, a, b in zip(NEW_TEXTS, before, after, strict=True):
        assert (_row(a, FEATURE_TYPE_SENTENCE) is None) == (_row(b, FEATURE_TYPE_SENTENCE) is None), text
        assert _row(a, FEATURE_TYPE_SENTENCE) is None or np.array_equal(_counts(a), _counts(b)), text

