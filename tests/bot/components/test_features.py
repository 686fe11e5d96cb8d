"""The feature blocks of many messages at once are the blocks of each message, stacked."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.features import FeatureBlocks
from tests.bot.components.pipeline import Pipeline


def test_many_messages_give_the_rows_each_message_gives_alone(pipeline: Pipeline):
    messages = pipeline.data.training_examples
    blocks = FeatureBlocks.fit(messages, {"dense": 3.0, "sparse": 1.0})
    assert blocks.names == ["dense:e5", "sparse:chars", "sparse:words"]
    together = blocks.matrix(messages)
    one_by_one = sp.vstack([blocks.matrix([m]) for m in messages]).tocsr()
    assert together.shape == (len(messages), sum(blocks.sizes))
    assert abs(together - one_by_one).max() < 1e-12
    # every row: each block scaled to its weight (3 for the embedding, 1 for each count block)
    assert np.allclose(np.linalg.norm(blocks.dense_part(together), axis=1), 1.0)
    start = blocks.sizes[0]
    chars = together[:, start:start + blocks.sizes[1]].toarray()
    assert np.allclose(np.linalg.norm(chars, axis=1), 1.0)


def test_idf_counts_the_messages_that_have_each_word(pipeline: Pipeline):
    messages = pipeline.data.training_examples
    blocks = FeatureBlocks.fit(messages, {})
    words = blocks.names.index("sparse:words")
    vocabulary = pipeline.counts[0].vectorizers[TEXT].vocabulary_
    having_hello = sum("hello" in m.get(TEXT).split() for m in messages)
    assert having_hello == 1
    assert blocks.idf["sparse:words"][vocabulary["hello"]] == pytest.approx(
        np.log((1 + len(messages)) / (1 + having_hello)) + 1.0)
    assert len(blocks.idf["sparse:words"]) == blocks.sizes[words]


def test_a_message_without_a_block_gets_an_empty_row_there(pipeline: Pipeline):
    messages = pipeline.featurize("where is my order", "שלום")
    bare = Message({TEXT: "no features at all"})
    blocks = FeatureBlocks.fit(pipeline.data.training_examples, {})
    rows = blocks.matrix([messages[0], bare, messages[1]])
    assert rows[1].nnz == 0
    assert abs(rows[[0, 2]] - blocks.matrix(messages)).max() < 1e-12
