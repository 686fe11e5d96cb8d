"""Word and character n-gram counts of a message's text, as one sentence-level row: all the classifiers read.

Rasa's ``CountVectorsFeaturizer`` featurizes the text, the FAQ answers' texts and the
action texts, and gives each two matrices: a row per token (for DIET's transformer)
and one for the sentence. Kesher's classifiers (:mod:`bot.components.features`) read
only the sentence row of the text, so the rest was work nobody read: in a training
of ~9,000 examples, Rasa's featurizer called scikit-learn's ``transform`` four times per
example (a token matrix and a sentence row of the text and of the answer), one text at
a time, and that was 14 % of ``rasa train`` (py-spy, 2026-12-02).

:class:`SentenceCountVectorsFeaturizer` is Rasa's featurizer, configured the same way,
with a vocabulary of the text only, that computes the sentence row of every message
in one ``transform``. Each row is what Rasa's featurizer gave the text's sentence:
the same vocabulary, counts and column order (a test compares them).
"""

from __future__ import annotations

from typing import List

import numpy as np
import scipy.sparse as sp
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.featurizers.sparse_featurizer.count_vectors_featurizer import CountVectorsFeaturizer
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

__all__ = ["SentenceCountVectorsFeaturizer"]


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class SentenceCountVectorsFeaturizer(CountVectorsFeaturizer):
    """Rasa's ``CountVectorsFeaturizer`` for the text's sentence row only, all messages in one pass.

    Config: Rasa's ``CountVectorsFeaturizer``'s (``analyzer``, ``min_ngram``, ``max_ngram``, ...). No
    token-level matrix is made, so no component that reads one (DIET, TED) can follow it.
    """

    @staticmethod
    def _attributes_for(analyzer: str) -> List[str]:
        """Only the message's text has a vocabulary (Rasa's featurizer also learns the answers' and actions')."""
        return [TEXT]

    def process(self, messages: List[Message]) -> List[Message]:
        """Adds each message's sentence row of n-gram counts (nothing for a message without tokens)."""
        vectorizer = self.vectorizers.get(TEXT) if self.vectorizers else None
        if vectorizer is None or not self._get_attribute_vocabulary(TEXT):
            return super().process(messages)  # Rasa logs that the featurizer is untrained
        counted = [(message, tokens) for message in messages
                   if (tokens := self._get_processed_message_tokens_by_attribute(message, TEXT))]
        if not counted:
            return messages
        rows = sp.csr_matrix(vectorizer.transform([" ".join(tokens) for _, tokens in counted]))
        rows.sort_indices()
        starts, columns, counts = rows.indptr, rows.indices, rows.data
        width = rows.shape[1]
        for number, (message, _) in enumerate(counted):
            start, end = starts[number], starts[number + 1]
            # Each message's row built from the matrix's arrays: slicing the matrix row by row cost 4x as much.
            row = sp.coo_matrix((counts[start:end], (np.zeros(end - start, dtype=np.int32), columns[start:end])),
                                shape=(1, width))
            self.add_features_to_message(None, row, TEXT, message)
        return messages
