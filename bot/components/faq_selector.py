"""Picks the FAQ answer for the ``faq`` retrieval intent, or admits it has none.

:class:`FaqSelector` replaces Rasa's TensorFlow ``ResponseSelector`` (about
150 of the 190 seconds a training took) with the calibrated linear
SVM of :mod:`bot.components.linear`, trained on the ``faq/*`` examples
over the same sparse and dense features as the intent classifier (about a
second). It writes exactly what ``ResponseSelector`` writes under
``response_selector``, so Rasa's retrieval action (``utter_faq``), the rules,
``rasa test nlu``'s response-selection report and the writers' tools work as
before.

Unlike ``ResponseSelector``, which always names one of the answers, it says
when none fits: if the intent is ``faq`` but the best answer's calibrated
probability is under ``threshold``, or the message is further from every
example of that answer than ``min_similarity`` (cosine of the e5 sentence
embeddings), the intent becomes ``nlu_fallback`` the way the
FallbackClassifier does it (inserted at the top of the ranking, whose
confidence is the threshold), and the honest path runs (help-centre search,
then an offer of a person: ``actions/fallback.py``). The
``response_selector`` output is still written, so reports show what would
have been answered. Place it after the FallbackClassifier, which then does not
see its fallback twice.

With ``neighbours_k`` above 0 it also asks the training examples of every
intent: among the ``neighbours_k`` examples nearest to the message in e5
space (each weighted by ``exp((cosine - nearest) / neighbours_temperature)``,
as the intent classifier's vote), the share of the chosen answer's examples
minus the share of the ``out_of_scope`` ones must reach
``neighbours_min_margin`` (0: the out_of_scope examples must not weigh more),
else it falls back too. A near-domain
question the shop cannot answer ("is there a charging point for my car at the
store?") is often close enough to an answer's examples to pass
``min_similarity`` and yet closer still to the questions writers marked
``out_of_scope``; the linear model, which draws one boundary per answer and
only sees ``faq`` examples, cannot tell.

With ``min_coverage`` above 0 it also reads the message word by word: each of
its pieces (e5's per-token states after a middle layer,
:data:`~bot.components.e5_onnx.TOKEN_LAYER`) is matched with the closest piece
of any training example of the chosen answer, and the mean cosine of the
``coverage_pieces`` worst-matched pieces must reach ``min_coverage``. A question
on an answer's topic that asks what the answer does not say ("do you ship to
Eilat *on Saturdays*?", "can I pay *with bitcoin*?") carries a word no way of
asking that answer has; a new wording of the same question mostly does not,
since its words, or words used the same way, are in the examples. The sentence
embedding blurs such a word into the rest, so the checks above miss it. The
examples' states are kept in the model (float16); the message's come from the
pass that encoded it for the turn
(:func:`~bot.components.sentence_encoder.message_token_states`). Interjections
and greetings that carry no question (``coverage_skip_words``: "hi! um, how
long does delivery take?") are read as context but not asked to be covered.
Writers see its effect as a question that falls back until an example with its
wording is added (docs/writing.md).

With ``suggest_min_confidence`` set, a message that falls back although the
classifier put the ``faq`` intent first and gave one answer at least that
probability carries that answer's question (:mod:`core.suggestions`): for each
answer and language, the training example most like the answer's other examples
in that language (among the well-formed ones the model itself places under that
answer: :func:`offered_questions`). The fallback action offers it as a "did you mean" button, so a real
question the checks above sent away costs the customer a tap, and a question the
shop cannot answer gets an offer it may decline instead of another question's
answer.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections import Counter
from typing import Any, Callable, Dict, FrozenSet, Iterable, List, Optional, Tuple, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.nlu.featurizers.featurizer import Featurizer
from rasa.shared.constants import DEFAULT_NLU_FALLBACK_INTENT_NAME
from rasa.shared.nlu.constants import (
    FEATURE_TYPE_SENTENCE,
    INTENT,
    INTENT_RANKING_KEY,
    INTENT_RESPONSE_KEY,
    PREDICTED_CONFIDENCE_KEY,
    TEXT,
)
from rasa.shared.nlu.training_data import util as nlu_util
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import raise_warning

from bot.components import e5_onnx, features, intent_classifier, linear, sentence_encoder
from bot.components.code_version import source_fingerprint
from bot.components.intent_classifier import is_blank
from bot.components.linear import LINEAR_DEFAULTS, LinearModel
from bot.components.sentence_encoder import cache_folder, message_token_states, token_states
from core.language import detect_language
from core.suggestions import SUGGESTION, make_suggestion

__all__ = ["FaqSelector", "coverage", "coverage_skip_words"]

logger = logging.getLogger(__name__)

MODEL_FILE = "faq_selector.npz"
EXAMPLES_FILE = "faq_examples.npz"
META_FILE = "faq_selector.json"
# The keys of Rasa's response selector output (rasa.nlu.selectors.response_selector).
PROPERTY = "response_selector"
RETRIEVAL_INTENTS = "all_retrieval_intents"
PREDICTION = "response"
RANKING = "ranking"
RESPONSES = "responses"
UTTER_ACTION = "utter_action"
# The label of a neighbour that is not an answer of the retrieval intent.
OUT_OF_SCOPE_LABEL = -1
OTHER_LABEL = -2
# Words a customer puts around a question in a chat, in both languages: the coverage check does not ask the
# answer's examples to hold them (letters and digits only, casefolded, as UnigramTokenizer.words gives them; an entry
# of several words skips them only one after the other).
COVERAGE_SKIP_WORDS = (
    "oh", "ah", "aha", "hmm", "hm", "um", "uh", "wait", "hold on", "one sec", "hi", "hey", "hello", "please", "pls",
    "plz", "thanks", "thx", "ok", "okay", "btw", "by the way", "sorry", "well", "actually", "anyway", "also",
    "quick question", "one more question", "one more thing",
    "אה", "אוי", "אממ", "הממ", "רגע", "שנייה", "היי", "הי", "שלום", "בבקשה", "תודה", "אוקיי", "אוקי", "סליחה",
    "אגב", "בעצם", "סתם", "שאלה", "עוד שאלה",
)
# An offered question is a training example of this length: "refund?" says too little on a button, a story
# ("the kettle I got as a present broke, what do I need to claim the warranty?") too much.
QUESTION_WORDS = (3, 7)
QUESTION_MAX_CHARS = 50
_WORD = re.compile(r"\w+")


def _sentence_embedding(message: Message) -> Optional[np.ndarray]:
    """The first dense sentence feature of the text (the e5 embedding), unit length."""
    for feature in message.features:
        if feature.attribute == TEXT and feature.type == FEATURE_TYPE_SENTENCE and not feature.is_sparse():
            vector = np.asarray(feature.features, dtype=np.float32).ravel()
            norm = float(np.linalg.norm(vector))
            return vector / norm if norm else vector
    return None


def coverage_skip_words(entries: Iterable[Any]) -> FrozenSet[str]:
    """A coverage check's skip words as it compares them: casefolded, single-spaced."""
    return frozenset(" ".join(str(entry).casefold().split()) for entry in entries)


def coverage(question: np.ndarray, reference: np.ndarray, pieces: int) -> float:
    """How well the answer's examples cover the question's worst-matched pieces.

    Args:
        question: The question's per-piece states (unit rows).
        reference: Every piece of every training example of the answer (unit rows).
        pieces: How many of the question's worst-matched pieces are averaged.

    Returns:
        The mean, over the ``pieces`` question pieces whose best cosine with any
        reference piece is lowest, of that best cosine; 1.0 for a question with no
        pieces, 0.0 for an answer with no examples.
    """
    if len(question) == 0:
        return 1.0
    if len(reference) == 0:
        return 0.0
    best = (question @ reference.T).max(axis=1)
    return float(np.sort(best)[: max(1, pieces)].mean())


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class FaqSelector(IntentClassifier, GraphComponent):
    """Selects the answer of a retrieval intent with a calibrated linear model, or falls back.

    Config:
        retrieval_intent: The retrieval intent it answers (``faq``).
        threshold: The lowest calibrated probability of the best answer that is still
            answered; below it a ``faq`` message becomes ``nlu_fallback``.
        min_similarity: The lowest cosine similarity (e5 sentence embeddings) between the
            message and the nearest training example of the best answer; 0 turns it off.
        neighbours_k: How many training examples of all intents nearest to the message
            (e5) are asked; 0 (the default) turns the check off.
        neighbours_min_margin: The lowest weighted share of the best answer's examples
            minus that of the ``out_of_scope_intent`` ones among them (-1 to 1); below
            it the message falls back.
        neighbours_temperature: How fast a neighbour's weight falls with its distance
            (``exp((cosine - nearest cosine) / temperature)``).
        min_coverage: The lowest :func:`coverage` of the message by the best answer's
            examples; 0 (the default) turns the check off.
        coverage_pieces: How many of the message's worst-matched pieces :func:`coverage` averages.
        coverage_skip_words: Words of the message the coverage check leaves out
            (default :data:`COVERAGE_SKIP_WORDS`).
        suggest_min_confidence: The lowest probability of the best answer for which a
            ``faq`` message that fell back offers that answer's question; None (the
            default) offers none.
        cache_dir: Where the examples' per-piece states are cached between trainings, beside
            the sentence vectors (default: ``KESHER_EMBEDDING_CACHE``); ``false`` turns it off.
        out_of_scope_intent: The intent of the questions the shop does not answer.
        ranking_length: Answers kept in the ranking (0: all).
        C, class_weight, weights, calibration_folds, max_iter, random_state: the linear
            model (:data:`bot.components.linear.LINEAR_DEFAULTS`).
    """

    @classmethod
    def required_components(cls) -> List[Type]:
        """Featurizers must run first."""
        return [Featurizer]

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """The code this component runs besides its class, so Rasa's cache retrains it when that changes."""
        return source_fingerprint(sys.modules[__name__], intent_classifier, features, linear, sentence_encoder,
                                  e5_onnx)

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """See the class docstring."""
        return {
            **LINEAR_DEFAULTS,
            "retrieval_intent": "faq",
            "threshold": 0.5,
            "min_similarity": 0.0,
            "neighbours_k": 0,
            "neighbours_temperature": 0.02,
            "neighbours_min_margin": 0.0,
            "min_coverage": 0.0,
            "coverage_pieces": 2,
            "coverage_skip_words": list(COVERAGE_SKIP_WORDS),
            "suggest_min_confidence": None,
            "cache_dir": None,
            "out_of_scope_intent": "out_of_scope",
            "ranking_length": 10,
        }

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        model: Optional[LinearModel] = None,
        responses: Optional[Dict[str, List[Dict[str, Any]]]] = None,
        all_retrieval_intents: Optional[List[str]] = None,
        examples: Optional[np.ndarray] = None,
        example_labels: Optional[np.ndarray] = None,
        neighbours: Optional[np.ndarray] = None,
        neighbour_labels: Optional[np.ndarray] = None,
        pieces: Optional[np.ndarray] = None,
        piece_labels: Optional[np.ndarray] = None,
        questions: Optional[Dict[str, Dict[str, str]]] = None,
    ) -> None:
        """A selector with ``config``; untrained unless ``model`` is given."""
        self.config = {**self.get_default_config(), **config}
        self.retrieval_intent: str = self.config["retrieval_intent"]
        self.model = model
        self.responses = responses or {}
        self.all_retrieval_intents = all_retrieval_intents or []
        self.examples = examples  # unit e5 embeddings of the training examples
        self.example_labels = example_labels  # the class index of each
        self.neighbours = neighbours  # unit e5 embeddings of every intent's examples (neighbours_k > 0)
        self.neighbour_labels = neighbour_labels  # answer index, OUT_OF_SCOPE_LABEL or OTHER_LABEL
        self.pieces = pieces  # per-piece states of every example (float16 rows; min_coverage > 0)
        self.piece_labels = piece_labels  # the answer index of each row
        self.questions = questions or {}  # answer → language → the question offered for it
        self._skip_words = coverage_skip_words(self.config["coverage_skip_words"])
        self._cache_dir = cache_folder(self.config["cache_dir"])  # where trainings keep the pieces they read
        self._model_storage = model_storage
        self._resource = resource

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> FaqSelector:
        """Creates an untrained selector (Rasa's graph API)."""
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Fits the answer classifier on the retrieval intent's examples."""
        self.all_retrieval_intents = sorted(training_data.retrieval_intents)
        self.responses = dict(training_data.responses)
        examples = [
            m for m in training_data.intent_examples
            if m.get(INTENT) == self.retrieval_intent and m.get(INTENT_RESPONSE_KEY) and not is_blank(m)
        ]
        labels = [m.get(INTENT_RESPONSE_KEY) for m in examples]
        if len(set(labels)) < 2:
            raise_warning(f"FaqSelector: fewer than two answers for '{self.retrieval_intent}'; it stays untrained.")
            self.persist()
            return self._resource
        self.model = LinearModel.train(examples, labels, self.config)
        vectors = [_sentence_embedding(m) for m in examples]
        if all(v is not None for v in vectors):
            self.examples = np.stack([v for v in vectors if v is not None])
            self.example_labels = np.array([self.model.classes.index(label) for label in labels])
            self.questions = offered_questions(examples, self.examples, labels, self.model)
        if int(self.config["neighbours_k"]) > 0:
            self._keep_neighbours(training_data, self.model.classes)
        if float(self.config["min_coverage"]) > 0:
            states = token_states([m.get(TEXT) for m in examples], self._cache_dir)
            self.pieces = np.concatenate(states).astype(np.float16)
            self.piece_labels = np.concatenate([np.full(len(rows), self.model.classes.index(label))
                                                for rows, label in zip(states, labels, strict=True)])
        self.persist()
        return self._resource

    def _keep_neighbours(self, training_data: TrainingData, classes: List[str]) -> None:
        """Keeps every intent's examples (embedding and label) for the neighbours' check."""
        kept = [(v, m) for m in training_data.intent_examples if not is_blank(m)
                if (v := _sentence_embedding(m)) is not None]
        if not kept:
            return
        out_of_scope = self.config["out_of_scope_intent"]

        def label(message: Message) -> int:
            if message.get(INTENT) == self.retrieval_intent and message.get(INTENT_RESPONSE_KEY) in classes:
                return classes.index(message.get(INTENT_RESPONSE_KEY))
            return OUT_OF_SCOPE_LABEL if message.get(INTENT) == out_of_scope else OTHER_LABEL

        self.neighbours = np.stack([v for v, _ in kept])
        self.neighbour_labels = np.array([label(m) for _, m in kept])

    def neighbours_margin(self, message: Message, label: int) -> Optional[float]:
        """Among the nearest examples of all intents, the weighted share of answer ``label`` minus out_of_scope's.

        None when the check is off or the message has no sentence embedding.
        """
        k = int(self.config["neighbours_k"])
        if k <= 0 or self.neighbours is None or self.neighbour_labels is None:
            return None
        vector = _sentence_embedding(message)
        if vector is None:
            return None
        similarities = self.neighbours @ vector
        k = min(k, len(similarities))
        nearest = np.argpartition(-similarities, k - 1)[:k]
        closeness = similarities[nearest]
        weights = np.exp((closeness - closeness.max()) / float(self.config["neighbours_temperature"]))
        labels = self.neighbour_labels[nearest]
        return float((weights[labels == label].sum() - weights[labels == OUT_OF_SCOPE_LABEL].sum()) / weights.sum())

    def coverage(self, message: Message, label: int) -> Optional[float]:
        """:func:`coverage` of the message by answer ``label``'s examples; None when the check is off."""
        if float(self.config["min_coverage"]) <= 0 or self.pieces is None or self.piece_labels is None:
            return None
        text = message.get(TEXT)
        if not isinstance(text, str):
            return None
        question = message_token_states(text, self._skip_words, cache_dir=self._cache_dir)
        reference = self.pieces[self.piece_labels == label].astype(np.float32)
        return coverage(question, reference, int(self.config["coverage_pieces"]))

    def _nearest_similarity(self, message: Message, label: int) -> Optional[float]:
        if self.examples is None or self.example_labels is None:
            return None
        vector = _sentence_embedding(message)
        if vector is None:
            return None
        return float(np.max(self.examples[self.example_labels == label] @ vector))

    def process(self, messages: List[Message]) -> List[Message]:
        """Writes the ``response_selector`` output and falls back when no answer is good enough."""
        model = self.model
        if model is None:
            return messages
        rows = model.probabilities(messages)
        for message, row in zip(messages, rows, strict=True):
            ranking = model.ranking(row, int(self.config["ranking_length"]))
            best = ranking[0]
            key = best["name"]
            utter_action = nlu_util.intent_response_key_to_template_key(key)
            responses = self.responses.get(utter_action) or [{TEXT: key}]
            prediction = {
                PREDICTION: {
                    RESPONSES: responses,
                    PREDICTED_CONFIDENCE_KEY: best["confidence"],
                    INTENT_RESPONSE_KEY: key,
                    UTTER_ACTION: utter_action,
                },
                RANKING: [
                    {PREDICTED_CONFIDENCE_KEY: r["confidence"], INTENT_RESPONSE_KEY: r["name"]}
                    for r in ranking
                ],
            }
            properties = message.get(PROPERTY, {}) or {}
            properties[RETRIEVAL_INTENTS] = self.all_retrieval_intents
            properties[self.retrieval_intent] = prediction
            message.set(PROPERTY, properties, add_to_output=True)
            self._fall_back_if_unsure(message, best["confidence"], model.classes.index(best["name"]))
            self._suggest_if_fallen_back(message, key, best["confidence"])
        return messages

    def _suggest_if_fallen_back(self, message: Message, answer: str, confidence: float) -> None:
        """Offers ``answer``'s question when the message fell back but the ``faq`` intent came first."""
        bar = self.config["suggest_min_confidence"]
        if bar is None or confidence < float(bar) or answer not in self.questions:
            return
        if (message.get(INTENT) or {}).get("name") != DEFAULT_NLU_FALLBACK_INTENT_NAME:
            return
        ranking = message.get(INTENT_RANKING_KEY) or []
        first = next((r for r in ranking if r.get("name") != DEFAULT_NLU_FALLBACK_INTENT_NAME), None)
        if first is None or first.get("name") != self.retrieval_intent:
            return
        message.set(SUGGESTION, make_suggestion(answer, confidence, self.questions[answer]), add_to_output=True)

    def _fall_back_if_unsure(self, message: Message, confidence: float, label: int) -> None:
        intent = message.get(INTENT) or {}
        if intent.get("name") != self.retrieval_intent:
            return
        threshold = float(self.config["threshold"])
        similarity = self._nearest_similarity(message, label)
        min_similarity = float(self.config["min_similarity"])
        margin = self.neighbours_margin(message, label)
        covered: Optional[float] = None
        if (confidence >= threshold and (similarity is None or similarity >= min_similarity)
                and (margin is None or margin >= float(self.config["neighbours_min_margin"]))):
            covered = self.coverage(message, label)  # the costly check last, and only for an answer still standing
            if covered is None or covered >= float(self.config["min_coverage"]):
                return
        logger.debug("FAQ answer confidence %.3f, similarity %s, neighbours' margin %s, coverage %s: not sure, "
                     "nlu_fallback", confidence, similarity, margin, covered)
        fallback = {"name": DEFAULT_NLU_FALLBACK_INTENT_NAME, PREDICTED_CONFIDENCE_KEY: threshold}
        message.set(INTENT, fallback, add_to_output=True)
        ranking = list(message.get(INTENT_RANKING_KEY) or [])
        message.set(INTENT_RANKING_KEY, [dict(fallback), *ranking], add_to_output=True)

    def persist(self) -> None:
        """Writes the weights, the example embeddings and the responses to the model storage."""
        with self._model_storage.write_to(self._resource) as folder:
            if self.model is not None:
                self.model.save(folder / MODEL_FILE)
            if self.examples is not None and self.example_labels is not None:
                arrays = {"vectors": self.examples, "labels": self.example_labels}
                if self.neighbours is not None and self.neighbour_labels is not None:
                    arrays.update(neighbours=self.neighbours, neighbour_labels=self.neighbour_labels)
                if self.pieces is not None and self.piece_labels is not None:
                    arrays.update(pieces=self.pieces, piece_labels=self.piece_labels)
                np.savez(folder / EXAMPLES_FILE, **arrays)
            meta = {"responses": self.responses, "all_retrieval_intents": self.all_retrieval_intents,
                    "questions": self.questions}
            (folder / META_FILE).write_text(json.dumps(meta, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> FaqSelector:
        """Loads a trained selector (an untrained one if training left nothing)."""
        try:
            with model_storage.read_from(resource) as folder:
                meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
                model = LinearModel.load(folder / MODEL_FILE) if (folder / MODEL_FILE).exists() else None
                examples = labels = neighbours = neighbour_labels = pieces = piece_labels = None
                if (folder / EXAMPLES_FILE).exists():
                    with np.load(folder / EXAMPLES_FILE, allow_pickle=False) as arrays:
                        examples, labels = arrays["vectors"], arrays["labels"]
                        if "neighbours" in arrays:
                            neighbours, neighbour_labels = arrays["neighbours"], arrays["neighbour_labels"]
                        if "pieces" in arrays:
                            pieces, piece_labels = arrays["pieces"], arrays["piece_labels"]
        except (ValueError, FileNotFoundError):
            logger.debug("No trained FAQ selector in resource '%s'.", resource.name)
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, model, meta["responses"], meta["all_retrieval_intents"],
                   examples, labels, neighbours, neighbour_labels, pieces, piece_labels, meta.get("questions"))


def offered_questions(examples: List[Message], vectors: np.ndarray, labels: List[str],
                      model: LinearModel) -> Dict[str, Dict[str, str]]:
    """For each answer and language, the question offered for it: its most central well-formed example.

    Args:
        examples: The answers' training examples.
        vectors: Their unit e5 embeddings, row by row.
        labels: The answer of each example.
        model: The trained classifier: an example it places under another answer is not offered.

    Returns:
        Answer → language → the example with the highest mean cosine to that answer's other
        examples in that language. Preferred, in this order, while any example is left: one the
        model places under its answer; of :data:`QUESTION_WORDS` words and at most
        :data:`QUESTION_MAX_CHARS` characters; every word of it in another FAQ example too (a typo
        is not shown on a button).
    """
    placed = [model.classes[int(np.argmax(row))] for row in model.probabilities(examples)]
    texts = [str(message.get(TEXT) or "").strip() for message in examples]
    words = [frozenset(_WORD.findall(text.casefold())) for text in texts]
    seen_in: Counter[str] = Counter(word for found in words for word in found)
    groups: Dict[Tuple[str, str], List[int]] = {}
    for index, (text, label) in enumerate(zip(texts, labels, strict=True)):
        language = detect_language(text)
        if language and not text.startswith("/"):
            groups.setdefault((label, language), []).append(index)
    preferences: List[Callable[[int], bool]] = [
        lambda i: placed[i] == labels[i],
        lambda i: (QUESTION_WORDS[0] <= len(texts[i].split()) <= QUESTION_WORDS[1]
                   and len(texts[i]) <= QUESTION_MAX_CHARS),
        lambda i: all(seen_in[word] > 1 for word in words[i]),
    ]
    questions: Dict[str, Dict[str, str]] = {}
    for (label, lang), members in groups.items():
        candidates = members
        for preferred in preferences:
            candidates = [i for i in candidates if preferred(i)] or candidates
        centrality = (vectors[candidates] @ vectors[members].T).mean(axis=1)
        questions.setdefault(label, {})[lang] = texts[candidates[int(np.argmax(centrality))]]
    return questions
