"""One matrix from the sentence features of every featurizer, for the linear classifiers.

The pipeline gives each message several sentence-level feature blocks: word and
character n-gram counts (sparse) and the e5 sentence embedding (dense). A
linear model on their raw concatenation is dominated by whichever block has
the largest numbers (a 40-word message has hundreds of character n-gram
counts; the embedding has norm 1). :class:`FeatureBlocks` gives every block the
same footing, learnt on the training examples: sparse counts become
sublinear TF-IDF, each block is scaled to unit length per message, then
multiplied by its configured weight, so ``weights`` say how much each kind
of evidence counts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, List, Mapping, NamedTuple, Optional, Sequence

import numpy as np
import scipy.sparse as sp
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message

__all__ = ["FeatureBlocks", "Row"]


def _sentence_features(message: Message) -> Dict[str, Any]:
    """The message's sentence-level feature matrices of its text, by block name (the last of a name wins)."""
    found: Dict[str, Any] = {}
    for feature in message.features:
        if feature.attribute == TEXT and feature.type == FEATURE_TYPE_SENTENCE:
            found[f"{'sparse' if feature.is_sparse() else 'dense'}:{feature.origin}"] = feature.features
    return found


def _entries(block: Any) -> tuple[np.ndarray, np.ndarray]:
    """A message's block (one row, sparse or dense) as its non-zero entries' columns and values.

    A column may come twice in a sparse block (the caller sums them); zeros of a dense block are left out.
    """
    if sp.issparse(block):
        coo = block.tocoo()
        return np.asarray(coo.col, dtype=np.int64), np.asarray(coo.data, dtype=np.float64)
    dense = np.asarray(block, dtype=np.float64)
    row, column = np.nonzero(dense)
    return np.asarray(column, dtype=np.int64), dense[row, column]


def _unit_dense(dense: np.ndarray) -> np.ndarray:
    """The rows of the dense blocks' columns in float32, each scaled to unit length (empty rows stay zero)."""
    dense32 = dense.astype(np.float32)
    norms = np.linalg.norm(dense32, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    return np.asarray(dense32 / norms, dtype=np.float32)


def _stacked(messages: Sequence[Message], sizes: Optional[Mapping[str, int]] = None) -> Dict[str, sp.csr_matrix]:
    """Every block as one CSR matrix with a row per message, built from all the rows' arrays at once.

    A message without a block, or whose block is not ``sizes[name]`` wide, has an empty row there. Without
    ``sizes`` a block's width is the first message's that has it. Equal to stacking each message's
    ``csr_matrix`` (zeros of dense blocks left out, duplicates summed) at a fraction of the cost: 4,300 small
    matrices through ``scipy.sparse.vstack`` took seconds of every training.
    """
    widths: Dict[str, int] = dict(sizes or {})
    rows: Dict[str, List[np.ndarray]] = {}
    columns: Dict[str, List[np.ndarray]] = {}
    values: Dict[str, List[np.ndarray]] = {}
    for index, message in enumerate(messages):
        for name, matrix in _sentence_features(message).items():
            width = widths.setdefault(name, matrix.shape[1]) if sizes is None else widths.get(name)
            if width is None or matrix.shape[1] != width:
                continue
            column, value = _entries(matrix)
            rows.setdefault(name, []).append(np.full(len(value), index, dtype=np.int64))
            columns.setdefault(name, []).append(column)
            values.setdefault(name, []).append(value)
    stacked: Dict[str, sp.csr_matrix] = {}
    for name, width in widths.items():
        if name in values:
            data = (np.concatenate(values[name]), (np.concatenate(rows[name]), np.concatenate(columns[name])))
            stacked[name] = sp.csr_matrix(data, shape=(len(messages), width))
        else:
            stacked[name] = sp.csr_matrix((len(messages), width))
    return stacked


def _unit_rows(matrix: sp.csr_matrix, weight: float) -> sp.csr_matrix:
    """Each row scaled to length ``weight`` (empty rows stay empty), in place.

    Works on the CSR arrays directly: scipy's ``diags`` product costs more than
    the rest of a one-message parse together.
    """
    row_of_value = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
    norms = np.sqrt(np.bincount(row_of_value, weights=matrix.data * matrix.data, minlength=matrix.shape[0]))
    norms[norms == 0] = 1.0
    matrix.data = matrix.data * (weight / norms[row_of_value])
    return matrix


class Row(NamedTuple):
    """One message's row of a :meth:`FeatureBlocks.matrix`: its non-zero columns and their values."""

    columns: np.ndarray
    values: np.ndarray


@dataclass
class FeatureBlocks:
    """The blocks seen in training, their sizes, IDF weights and configured weights."""

    names: List[str] = field(default_factory=list)
    sizes: List[int] = field(default_factory=list)
    idf: Dict[str, np.ndarray] = field(default_factory=dict)
    weights: Dict[str, float] = field(default_factory=dict)

    @classmethod
    def fit(cls, messages: Sequence[Message], weights: Mapping[str, float]) -> FeatureBlocks:
        """Learns the blocks and the sparse blocks' IDF from the training messages.

        Args:
            messages: Featurized training messages.
            weights: A weight per block kind: ``dense``, ``sparse``, or a featurizer's
                name (``dense:<name>`` / ``sparse:<name>``, which wins); 1.0 otherwise.
        """
        stacked = _stacked(messages)
        names = sorted(stacked)
        result = cls(names=names, sizes=[stacked[n].shape[1] for n in names])
        for name in names:
            kind = name.split(":", 1)[0]
            result.weights[name] = float(weights.get(name, weights.get(kind, 1.0)))
            if kind == "sparse":
                document_frequency = np.bincount(stacked[name].indices, minlength=stacked[name].shape[1])
                result.idf[name] = np.log((1 + len(messages)) / (1 + document_frequency)) + 1.0
        return result

    def matrix(self, messages: Sequence[Message]) -> sp.csr_matrix:
        """The weighted, normalised feature matrix of ``messages`` (one row each)."""
        stacked = _stacked(messages, dict(zip(self.names, self.sizes, strict=True)))
        columns = []
        for name in self.names:
            block_matrix = stacked[name]
            block_matrix.sum_duplicates()
            block_matrix.data = self._counted(name, block_matrix.indices, block_matrix.data)
            columns.append(_unit_rows(block_matrix, self.weights[name]))
        if not columns:
            return sp.csr_matrix((len(messages), 0))
        return sp.hstack(columns).tocsr()

    def _counted(self, name: str, columns: np.ndarray, values: np.ndarray) -> np.ndarray:
        """A block's summed values as the classifiers read them: sublinear counts times IDF for counts."""
        if name not in self.idf:
            return values
        return np.asarray(np.log1p(values) * self.idf[name][columns])

    def rows(self, messages: Sequence[Message]) -> List[Row]:
        """Each message's row of :meth:`matrix`, as its non-zero columns (ascending) and their values.

        The same numbers without building scipy matrices, which costs more than the rest of a
        one-message prediction: 0.41 ms for the bot's 38,000 columns, against ~0.05 ms here.
        """
        found: List[Row] = []
        for message in messages:
            features = _sentence_features(message)
            columns: List[np.ndarray] = []
            values: List[np.ndarray] = []
            start = 0
            for name, size in zip(self.names, self.sizes, strict=True):
                block = features.get(name)
                if block is not None and block.shape[1] == size:
                    column, value = _entries(block)
                    # as sum_duplicates: the columns sorted, a column's values added up
                    column, where = np.unique(column, return_inverse=True)
                    value = self._counted(name, column, np.bincount(where, weights=value, minlength=len(column)))
                    norm = np.sqrt(np.sum(value * value))
                    if norm:
                        value = value * (self.weights[name] / norm)
                    columns.append(column + start)
                    values.append(value)
                start += size
            found.append(Row(np.concatenate(columns) if columns else np.zeros(0, dtype=np.int64),
                             np.concatenate(values) if values else np.zeros(0)))
        return found

    def dense_of_rows(self, rows: Sequence[Row]) -> np.ndarray:
        """:meth:`dense_part` of the matrix whose rows are ``rows`` (from :meth:`rows`)."""
        spans, start, width = [], 0, 0
        for name, size in zip(self.names, self.sizes, strict=True):
            if name.startswith("dense:"):
                spans.append((start, size, width))
                width += size
            start += size
        dense = np.zeros((len(rows), width), dtype=np.float64)
        for number, row in enumerate(rows):
            for start, size, at in spans:
                inside = (row.columns >= start) & (row.columns < start + size)
                dense[number, row.columns[inside] - start + at] = row.values[inside]
        return _unit_dense(dense)

    def dense_part(self, matrix: sp.csr_matrix) -> np.ndarray:
        """The dense blocks' columns of a :meth:`matrix`, each row scaled to unit length (for cosines).

        An empty ``(rows, 0)`` array when the pipeline has no dense featurizer.
        """
        start, columns = 0, []
        for name, size in zip(self.names, self.sizes, strict=True):
            if name.startswith("dense:"):
                columns.append(matrix[:, start : start + size].toarray())
            start += size
        if not columns:
            return np.zeros((matrix.shape[0], 0), dtype=np.float32)
        return _unit_dense(np.hstack(columns))

    def to_arrays(self, prefix: str = "blocks") -> Dict[str, np.ndarray]:
        """The blocks as named arrays (for ``np.savez``; no pickles in a model)."""
        arrays = {
            f"{prefix}_names": np.array(self.names, dtype=str),
            f"{prefix}_sizes": np.array(self.sizes, dtype=np.int64),
            f"{prefix}_weights": np.array([self.weights[n] for n in self.names], dtype=np.float64),
        }
        for index, name in enumerate(self.names):
            if name in self.idf:
                arrays[f"{prefix}_idf_{index}"] = self.idf[name]
        return arrays

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], prefix: str = "blocks") -> FeatureBlocks:
        """The blocks saved by :meth:`to_arrays`."""
        names = [str(n) for n in arrays[f"{prefix}_names"]]
        weights = [float(w) for w in arrays[f"{prefix}_weights"]]
        idf: Dict[str, np.ndarray] = {}
        for index, name in enumerate(names):
            saved: Optional[np.ndarray] = arrays.get(f"{prefix}_idf_{index}")
            if saved is not None:
                idf[name] = np.asarray(saved)
        return cls(names=names, sizes=[int(s) for s in arrays[f"{prefix}_sizes"]], idf=idf,
                   weights=dict(zip(names, weights, strict=True)))
