"""The feature blocks of many messages at once are the blocks of each message, stacked."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.features import Features
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


def test_rows_are_the_matrix_rows_without_building_it(pipeline: Pipeline):
    messages = pipeline.featurize("where is my order", "מתי אתם פתוחים?", "hello hello hello")
    blocks = FeatureBlocks.fit(pipeline.data.training_examples, {"dense": 3.0, "sparse": 1.0})
    words = blocks.sizes[blocks.names.index("sparse:words")]
    twice = Message({TEXT: "a word counted in two entries"}, features=[
        Features(sp.coo_matrix(([1.0, 2.0, 1.0], ([0, 0, 0], [3, 1, 3])), shape=(1, words)), "sentence", TEXT,
                 "words"),
        Features(np.zeros((1, 7)), "sentence", TEXT, "e5"),  # a block of the wrong width is left out
    ])
    sample = [*messages, Message({TEXT: "no features at all"}), twice]
    matrix = blocks.matrix(sample)
    rows = blocks.rows(sample)
    assert len(rows) == len(sample) and len(rows[3].columns) == 0
    start = blocks.sizes[0] + blocks.sizes[1]
    assert list(rows[4].columns) == [start + 1, start + 3]
    for number, row in enumerate(rows):
        expected = matrix[number]
        expected.sort_indices()
        assert list(row.columns) == list(expected.indices)
        assert np.allclose(row.values, expected.data, rtol=0, atol=1e-12)
    assert np.array_equal(blocks.dense_of_rows(rows), blocks.dense_part(matrix))
