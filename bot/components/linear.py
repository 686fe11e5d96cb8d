"""A calibrated linear classifier on :class:`~bot.components.features.FeatureBlocks`.

Shared by the intent classifier and the FAQ selector. Training fits a linear
support-vector machine (scikit-learn's ``LinearSVC``, liblinear's one-vs-rest
coordinate descent): on the bot's own held-out split it is as accurate as the
multinomial logistic regression it replaced (accuracy 0.902-0.905 against
0.905) and fits in about a second instead of minutes (lbfgs needed ~240
iterations over ~80,000 sparse columns and ~70 classes). The model keeps only
its weights, as plain arrays in an ``.npz`` (loading a model runs no pickled
code), and predicts with one matrix product; probabilities are a softmax of the
margins.

Calibration: raw margins (or a logistic regression's probabilities) are too
low or too high depending on how strongly the model is regularised, so a
confidence threshold (the FallbackClassifier's, the FAQ selector's) would
mean something different after every change of ``C``. Training therefore
also fits the model on ``calibration_folds`` parts of the data, collects the
scores of the held-out part, and learns one temperature that makes those
held-out probabilities honest (temperature scaling, Guo et al. 2017): a 0.7
then means about 70 % of such predictions are right. The temperature
divides the scores, so the ranking, hence the accuracy, is unchanged.

Neighbours (``knn_weight`` > 0): the model also keeps the training examples'
sentence embeddings (the dense blocks, unit length) and mixes the SVM's
probabilities with a vote of the ``knn_k`` most similar examples, each
weighted by ``exp(cosine / knn_temperature)`` relative to the nearest:
``(1 - w) * softmax(scores / T) + w * vote``. The SVM draws one straight
boundary per class; the vote follows the examples where a class has several
phrasings far apart. On BANKING77 (docs/benchmarks.md) it moved the test
accuracy from 92.79 % to 93.34 %, at the cost of one more matrix product per
message (about 1 ms for the bot's ~2,000 examples). The temperature is then learnt on the held-out folds' mixed
probabilities (the vote's neighbours taken from the fold's training part), so
thresholds keep meaning a probability of being right.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import scipy.sparse as sp
from rasa.shared.nlu.training_data.message import Message
from scipy.optimize import minimize_scalar
from sklearn.model_selection import StratifiedKFold
from sklearn.svm import LinearSVC

from bot.components.features import FeatureBlocks

__all__ = ["LINEAR_DEFAULTS", "LinearModel", "Neighbours"]

logger = logging.getLogger(__name__)

LINEAR_DEFAULTS: Dict[str, Any] = {
    # Inverse regularisation strength of the linear SVM.
    "C": 1.0,
    "max_iter": 2000,
    # "balanced" weighs each class by the inverse of its number of examples.
    "class_weight": "balanced",
    # Weight of each feature block after normalisation ("dense", "sparse", or "dense:<alias>"...).
    "weights": {"dense": 1.0, "sparse": 1.0},
    # Folds used to learn the temperature (0 or 1: no calibration, temperature 1).
    "calibration_folds": 3,
    "random_state": 42,
    # Share of the probability given to the vote of the nearest training examples (0: SVM only).
    "knn_weight": 0.0,
    # How many nearest examples vote, and how sharply a closer one outweighs a farther one.
    "knn_k": 40,
    "knn_temperature": 0.01,
    # SVMs fitted at once (the model and each calibration fold), each in a process of its own (forked);
    # 0 means one per core this process may run on. The weights are the same either way.
    "fit_processes": 0,
}


def _softmax(scores: np.ndarray) -> np.ndarray:
    scores = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(scores)
    return np.asarray(exp / exp.sum(axis=1, keepdims=True))


def _fit(x: sp.csr_matrix, y: np.ndarray, config: Mapping[str, Any]) -> LinearSVC:
    model = LinearSVC(
        C=float(config["C"]), max_iter=int(config["max_iter"]), class_weight=config["class_weight"],
        random_state=int(config["random_state"]),
    )
    return model.fit(x, y)


def _fit_processes(config: Mapping[str, Any], fits: int) -> int:
    wanted = int(config.get("fit_processes", 0)) or len(os.sched_getaffinity(0))
    return max(1, min(wanted, fits))


# What the forked fitting processes read: set just before they are forked, so they get it without a copy.
_TO_FIT: Optional[Tuple[sp.csr_matrix, np.ndarray, Mapping[str, Any]]] = None


def _fit_rows(rows: Optional[np.ndarray]) -> LinearSVC:
    assert _TO_FIT is not None
    x, y, config = _TO_FIT
    return _fit(x, y, config) if rows is None else _fit(x[rows], y[rows], config)


def _fit_each(x: sp.csr_matrix, y: np.ndarray, rows: Sequence[Optional[np.ndarray]],
              config: Mapping[str, Any]) -> List[LinearSVC]:
    """One SVM per entry of ``rows`` (``None``: every row), side by side in forked processes (``fit_processes``).

    Processes, not threads: liblinear lets go of the GIL, but draws its coordinate order from one random
    generator per process, so two fits on threads take each other's numbers and the weights change from
    run to run. Each forked process has its own, seeded by the fit as in turn: the same weights either way.
    """
    global _TO_FIT
    processes = _fit_processes(config, len(rows))
    _TO_FIT = (x, y, config)
    try:
        if processes > 1 and "fork" in multiprocessing.get_all_start_methods() \
                and not multiprocessing.current_process().daemon:
            with ProcessPoolExecutor(max_workers=processes, mp_context=multiprocessing.get_context("fork")) as pool:
                return list(pool.map(_fit_rows, rows))
        return [_fit_rows(part) for part in rows]
    finally:
        _TO_FIT = None


# Up to this many messages are scored row by row; a matrix product is cheaper for more.
_FEW = 8


@dataclass
class Neighbours:
    """The training examples' unit sentence vectors and classes, and how they vote."""

    vectors: np.ndarray
    labels: np.ndarray
    k: int
    temperature: float
    weight: float

    def vote(self, queries: np.ndarray, classes: int) -> np.ndarray:
        """Each query's class distribution from its ``k`` most similar examples (rows sum to 1)."""
        similarities = queries @ self.vectors.T
        k = min(self.k, similarities.shape[1])
        nearest = np.argpartition(-similarities, k - 1, axis=1)[:, :k]
        closeness = np.take_along_axis(similarities, nearest, axis=1)
        # Relative to the nearest, so the exponent stays small whatever the temperature.
        weights = np.exp((closeness - closeness.max(axis=1, keepdims=True)) / self.temperature)
        votes = np.zeros((len(queries), classes))
        np.add.at(votes, (np.repeat(np.arange(len(queries)), k), self.labels[nearest].ravel()), weights.ravel())
        return np.asarray(votes / votes.sum(axis=1, keepdims=True))

    def mix(self, scores: np.ndarray, temperature: float, votes: np.ndarray) -> np.ndarray:
        """The SVM's calibrated probabilities mixed with the vote."""
        return np.asarray((1.0 - self.weight) * _softmax(scores / temperature) + self.weight * votes)


def _temperature(scores: np.ndarray, truth: np.ndarray, neighbours: Optional[Neighbours] = None,
                 votes: Optional[np.ndarray] = None) -> float:
    """The temperature minimising the negative log-likelihood of ``truth`` (mixed with ``votes`` if given)."""

    def nll(log_t: float) -> float:
        if neighbours is not None and votes is not None:
            probabilities = neighbours.mix(scores, float(np.exp(log_t)), votes)
        else:
            probabilities = _softmax(scores / np.exp(log_t))
        return float(-np.mean(np.log(probabilities[np.arange(len(truth)), truth] + 1e-12)))

    # SVM margins are about +-1, so the optimum is well below 1; not below 1/50: on a few well-separated
    # examples the held-out optimum is near 0 (everything certain).
    return float(np.exp(minimize_scalar(nll, bounds=(np.log(0.02), 3.0), method="bounded").x))


@dataclass
class LinearModel:
    """Feature blocks, class names, weights and temperature of a trained classifier."""

    blocks: FeatureBlocks
    classes: List[str]
    coef: np.ndarray
    intercept: np.ndarray
    temperature: float = 1.0
    neighbours: Optional[Neighbours] = None

    @classmethod
    def train(cls, messages: Sequence[Message], labels: Sequence[str], config: Mapping[str, Any]) -> LinearModel:
        """Fits the blocks, the regression and (with enough examples per class) the temperature.

        Args:
            messages: Featurized training messages.
            labels: The class of each message.
            config: ``C``, ``max_iter``, ``class_weight``, ``weights``, ``calibration_folds``,
                ``random_state``, ``knn_weight``, ``knn_k``, ``knn_temperature``, ``fit_processes`` (see
                :data:`LINEAR_DEFAULTS`).
        """
        blocks = FeatureBlocks.fit(messages, config["weights"])
        x = blocks.matrix(messages)
        classes = sorted(set(labels))
        y = np.array([classes.index(label) for label in labels])
        if len(classes) == 1:  # nothing to choose between: certain, whatever the input
            return cls(blocks, classes, np.zeros((1, x.shape[1])), np.zeros(1))
        folds = int(config["calibration_folds"])
        calibrated = folds >= 2 and np.bincount(y).min() >= folds
        # Every class is in every training part: a stratified split of >= folds examples per class.
        splits = list(StratifiedKFold(n_splits=folds, shuffle=True, random_state=int(config["random_state"]))
                      .split(x, y)) if calibrated else []
        fitted, *parts = _fit_each(x, y, [None, *(train_rows for train_rows, _ in splits)], config)
        coef, intercept = fitted.coef_, fitted.intercept_
        if len(classes) == 2:  # scikit-learn keeps one row for two classes; softmax needs both
            coef, intercept = np.vstack([-coef / 2, coef / 2]), np.array([-intercept[0] / 2, intercept[0] / 2])
        model = cls(blocks, classes, coef.astype(np.float32), intercept.astype(np.float32))
        dense = blocks.dense_part(x) if float(config["knn_weight"]) > 0 else np.zeros((len(y), 0), np.float32)
        if dense.shape[1] > 0:
            model.neighbours = Neighbours(dense, y, int(config["knn_k"]), float(config["knn_temperature"]),
                                          float(config["knn_weight"]))
        if calibrated:
            scores = np.zeros((len(y), len(classes)))
            votes = np.zeros((len(y), len(classes)))
            for (train_rows, test_rows), part in zip(splits, parts, strict=True):
                scores[test_rows] = part.decision_function(x[test_rows]) if len(classes) > 2 else np.column_stack(
                    [-part.decision_function(x[test_rows]) / 2, part.decision_function(x[test_rows]) / 2])
                if model.neighbours is not None:
                    held_in = Neighbours(dense[train_rows], y[train_rows], model.neighbours.k,
                                         model.neighbours.temperature, model.neighbours.weight)
                    votes[test_rows] = held_in.vote(dense[test_rows], len(classes))
            model.temperature = _temperature(scores, y, model.neighbours, votes)
            logger.debug("Calibrated temperature %.3f from %d folds", model.temperature, folds)
        return model

    def probabilities(self, messages: Sequence[Message]) -> np.ndarray:
        """Calibrated class probabilities, one row per message, columns in :attr:`classes` order.

        A few messages (a customer's turn) are scored from their rows' non-zero columns
        (:meth:`FeatureBlocks.rows`); many (training, the NLU gate) through one sparse matrix product.
        """
        neighbours = self.neighbours
        if len(messages) <= _FEW:
            rows = self.blocks.rows(messages)
            scores = np.array([self.coef[:, row.columns] @ row.values for row in rows],
                              dtype=np.float64).reshape(len(rows), len(self.classes)) + self.intercept
            if neighbours is None:
                return _softmax(scores / self.temperature)
            dense = self.blocks.dense_of_rows(rows)
        else:
            x = self.blocks.matrix(messages)
            scores = np.asarray(x @ self.coef.T) + self.intercept
            if neighbours is None:
                return _softmax(scores / self.temperature)
            dense = self.blocks.dense_part(x)
        return neighbours.mix(scores, self.temperature, neighbours.vote(dense, len(self.classes)))

    def ranking(self, probabilities: np.ndarray, length: int) -> List[Dict[str, Any]]:
        """``[{"name", "confidence"}, ...]`` best first, at most ``length`` long (all when 0)."""
        order = np.argsort(-probabilities, kind="stable")
        if length > 0:
            order = order[:length]
        return [{"name": self.classes[i], "confidence": float(probabilities[i])} for i in order]

    def save(self, path: Path) -> None:
        """Writes the model to one ``.npz`` file."""
        neighbours: Dict[str, np.ndarray] = {}
        if self.neighbours is not None:
            neighbours = {
                "knn_vectors": self.neighbours.vectors, "knn_labels": self.neighbours.labels,
                "knn_settings": np.array([self.neighbours.k, self.neighbours.temperature, self.neighbours.weight]),
            }
        np.savez(
            path, classes=np.array(self.classes, dtype=str), coef=self.coef, intercept=self.intercept,
            temperature=np.array(self.temperature), **self.blocks.to_arrays(), **neighbours,
        )

    @classmethod
    def load(cls, path: Path) -> LinearModel:
        """Reads a model written by :meth:`save` (no pickles)."""
        with np.load(path, allow_pickle=False) as arrays:
            data = {name: arrays[name] for name in arrays.files}
        neighbours = None
        if "knn_vectors" in data:
            k, temperature, weight = (float(v) for v in data["knn_settings"])
            neighbours = Neighbours(data["knn_vectors"], data["knn_labels"], int(k), temperature, weight)
        return cls(
            blocks=FeatureBlocks.from_arrays(data), classes=[str(c) for c in data["classes"]],
            coef=data["coef"], intercept=data["intercept"], temperature=float(data["temperature"]),
            neighbours=neighbours,
        )
