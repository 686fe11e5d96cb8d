"""Reads a help-centre question word by word against each article, so an article that does not say it is not shown.

The knowledge base ranks articles by their words (``actions/kb/search.py``): a question on an article's topic
that asks what the article does not say ("can the courier leave my parcel *with a neighbour*?") still finds that
article, and the customer gets an answer to another question. This component asks, as the FAQ selector's
coverage check does (:func:`~bot.components.faq_selector.coverage`), whether every word of the question has a
like word in what the article says: each of the message's pieces (e5's per-token states after a middle layer,
:data:`~bot.components.e5_onnx.TOKEN_LAYER`) is matched with the closest piece of the article's title, tags and
paragraphs, or of any help-centre question writers wrote in that language (the ``kb_question`` examples, which
hold the words customers use that articles do not: "parcel", "nothing yet", "broke"). The mean cosine of the
``pieces`` worst-matched pieces is the article's coverage.

It runs after the classifiers, for a message whose intent sends it to the help centre (``kb_question``,
``nlu_fallback``, ``out_of_scope``), and writes for every article in the message's language its coverage and the
digest of the words it was measured on (:attr:`core.articles.Article.digest`) under ``article_coverage`` in the
parse data, with the bar (``min_coverage``). The actions compare it with the article they found
(:func:`actions.kb.coverage.covers`): an article whose coverage is under the bar is not shown; one edited
since the model was trained (another digest) is not checked. The article pieces are kept in the model (float16);
articles are part of this component's fingerprint, so ``make ship`` after an article edit retrains it alone.
"""

from __future__ import annotations

import json
import logging
import sys
from hashlib import sha256
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple, Type

import numpy as np
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.classifiers.classifier import IntentClassifier
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components import e5_onnx, faq_selector, sentence_encoder
from bot.components.code_version import source_fingerprint
from bot.components.faq_selector import COVERAGE_SKIP_WORDS, coverage_skip_words
from bot.components.intent_classifier import is_blank
from bot.components.sentence_encoder import cache_folder, message_token_states, token_states
from core.articles import Article, ArticleError, load_articles
from core.language import LANGUAGES, detect_language

__all__ = ["PROPERTY", "ArticleCoverage", "ArticleReference", "article_coverages", "build_references"]

logger = logging.getLogger(__name__)

PROPERTY = "article_coverage"
STATES_FILE = "article_pieces.npz"
META_FILE = "article_coverage.json"


class ArticleReference:
    """What one language's help centre says, piece by piece: its articles and its writers' questions."""

    def __init__(self, keys: Sequence[str], digests: Sequence[str], article_rows: np.ndarray,
                 owners: np.ndarray, question_rows: np.ndarray) -> None:
        """Rows are unit-length piece states; ``owners[i]`` is the index in ``keys`` of article row ``i``."""
        self.keys = list(keys)
        self.digests = list(digests)
        order = np.argsort(owners, kind="stable")
        self.article_rows = np.ascontiguousarray(article_rows[order], dtype=np.float32)
        self.owners = np.asarray(owners[order], dtype=np.int32)  # rising, so each article's rows are one run
        self.starts = np.searchsorted(self.owners, np.arange(len(self.keys)))
        self.has_rows = np.bincount(self.owners, minlength=len(self.keys)) > 0
        self.question_rows = np.ascontiguousarray(question_rows, dtype=np.float32)

    def coverages(self, question: np.ndarray, pieces: int) -> np.ndarray:
        """Per article, :func:`~bot.components.faq_selector.coverage` of ``question`` by the article and the questions.

        Args:
            question: The message's per-piece states (unit rows), at least one.
            pieces: How many of its worst-matched pieces are averaged.
        """
        best_question = (question @ self.question_rows.T).max(axis=1) if len(self.question_rows) else \
            np.full(len(question), -1.0, dtype=np.float32)
        best = np.tile(best_question[:, None], (1, len(self.keys)))
        owning = np.flatnonzero(self.has_rows)  # articles with pieces: their rows start at strictly rising indices
        if len(owning):
            per_article = np.maximum.reduceat(question @ self.article_rows.T, self.starts[owning], axis=1)
            best[:, owning] = np.maximum(best[:, owning], per_article)
        worst = np.sort(best, axis=0)[: max(1, min(pieces, len(question)))]
        return worst.mean(axis=0)


def article_coverages(question: np.ndarray, references: Dict[str, ArticleReference],
                      languages: Sequence[str], pieces: int) -> Dict[str, Tuple[float, str]]:
    """``{"<language>/<slug>": (coverage, digest)}`` of a message's pieces by each article of ``languages``.

    A message with no pieces (only fillers, punctuation or emoji) is covered by every article (1.0).
    """
    result: Dict[str, Tuple[float, str]] = {}
    for language in languages:
        reference = references.get(language)
        if reference is None:
            continue
        values = reference.coverages(question, pieces) if len(question) else np.ones(len(reference.keys))
        result.update((key, (float(value), digest))
                      for key, value, digest in zip(reference.keys, values, reference.digests, strict=True))
    return result


def build_references(articles: Mapping[str, Sequence[Article]], questions: Iterable[str],
                     cache_dir: Optional[Path]) -> Dict[str, ArticleReference]:
    """Each language's :class:`ArticleReference`: its articles' pieces and its help-centre questions' pieces.

    Args:
        articles: The articles by language (:func:`core.articles.load_articles`).
        questions: Customers' help-centre questions (the ``kb_question`` examples), either language; one in
            no language that tells (:func:`core.language.detect_language`) counts for both.
        cache_dir: The embedding cache's folder (``None``: no cache).
    """
    by_language: Dict[str, List[str]] = {language: [] for language in LANGUAGES}
    for text in questions:
        language = detect_language(text)
        for one in (language,) if language else LANGUAGES:
            by_language[one].append(text)
    return {language: _reference(articles[language], by_language[language], cache_dir)
            for language in LANGUAGES if articles.get(language)}


def _reference(articles: Sequence[Article], questions: Sequence[str], cache_dir: Optional[Path]) -> ArticleReference:
    passages = [(index, text) for index, article in enumerate(articles) for text in article.passages if text]
    states = token_states([text for _, text in passages] + list(questions), cache_dir)
    article_states, question_states = states[: len(passages)], states[len(passages):]
    empty = np.zeros((0, e5_onnx.DIM), np.float32)
    owners = [np.full(len(rows), index, dtype=np.int32)
              for (index, _), rows in zip(passages, article_states, strict=True)]
    return ArticleReference(
        [a.key for a in articles], [a.digest for a in articles],
        np.concatenate(article_states) if article_states else empty,
        np.concatenate(owners) if owners else np.zeros(0, dtype=np.int32),
        np.concatenate(question_states) if question_states else empty)


def _kb_digest(kb_dir: Path) -> str:
    """A hash of every article's words (nothing when the folder cannot be read)."""
    try:
        by_language = load_articles(kb_dir)
    except (ArticleError, OSError):
        return ""
    return sha256(" ".join(a.digest for articles in by_language.values() for a in articles).encode()).hexdigest()


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER], is_trainable=True)
class ArticleCoverage(IntentClassifier, GraphComponent):
    """Writes how well each help-centre article covers a message's words (see the module docstring).

    Config:
        kb_dir: The help centre's folder (``data/kb``), read when training.
        help_intent: The intent whose examples are customers' help-centre questions (``kb_question``).
        intents: The intents whose messages are checked (those the actions answer with an article).
        min_coverage: The bar the actions apply (written with the coverages); 0 turns the check off.
        pieces: How many of the message's worst-matched pieces are averaged.
        skip_words: Words of the message not asked to be covered (default: the FAQ selector's fillers).
        cache_dir: Where the pieces are cached between trainings (default: ``KESHER_EMBEDDING_CACHE``);
            ``false`` turns it off.
    """

    @classmethod
    def required_components(cls) -> List[Type]:
        """Runs after the classifiers; needs nothing of theirs but the intent."""
        return []

    @classmethod
    def fingerprint_addon(cls, config: Dict[str, Any]) -> Optional[str]:
        """The code it runs and the articles' words, so Rasa's cache retrains it when either changes."""
        kb_dir = Path(str({**cls.get_default_config(), **config}["kb_dir"]))
        return source_fingerprint(sys.modules[__name__], faq_selector, sentence_encoder, e5_onnx) + \
            _kb_digest(kb_dir)

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        """See the class docstring."""
        return {
            "kb_dir": "data/kb",
            "help_intent": "kb_question",
            "intents": ["kb_question", "nlu_fallback", "out_of_scope"],
            "min_coverage": 0.0,
            "pieces": 2,
            "skip_words": list(COVERAGE_SKIP_WORDS),
            "cache_dir": None,
        }

    def __init__(self, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
                 references: Optional[Dict[str, ArticleReference]] = None) -> None:
        """A component with ``config``; it checks nothing until trained or loaded with ``references``."""
        self.config = {**self.get_default_config(), **config}
        self.references = references or {}
        self._intents = frozenset(self.config["intents"])
        self._skip_words = coverage_skip_words(self.config["skip_words"])
        self._cache_dir = cache_folder(self.config["cache_dir"])  # where trainings keep the pieces they read
        self._model_storage = model_storage
        self._resource = resource

    @classmethod
    def create(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
               execution_context: ExecutionContext) -> ArticleCoverage:
        """Creates an untrained component (Rasa's graph API)."""
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        """Keeps the pieces of every article and of every help-centre question, per language."""
        try:
            articles = load_articles(Path(str(self.config["kb_dir"])))
        except (ArticleError, OSError) as exc:
            logger.warning("ArticleCoverage: the help centre cannot be read (%s); articles are not checked.", exc)
            articles = {}
        questions = [str(m.get(TEXT)) for m in training_data.intent_examples
                     if m.get(INTENT) == self.config["help_intent"] and not is_blank(m)]
        self.references = build_references(articles, questions, self._cache_dir)
        self.persist()
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        """Writes ``article_coverage`` for the messages the help centre will answer."""
        if not self.references or float(self.config["min_coverage"]) <= 0:
            return messages
        for message in messages:
            if (message.get(INTENT) or {}).get("name") not in self._intents or is_blank(message):
                continue
            text = str(message.get(TEXT))
            language = detect_language(text)
            question = message_token_states(text, self._skip_words, cache_dir=self._cache_dir)
            found = article_coverages(question, self.references, (language,) if language else LANGUAGES,
                                      int(self.config["pieces"]))
            message.set(PROPERTY, {
                "min_coverage": float(self.config["min_coverage"]),
                "articles": {key: [round(value, 3), digest] for key, (value, digest) in found.items()},
            }, add_to_output=True)
        return messages

    def persist(self) -> None:
        """Writes the pieces (float16) and the articles' keys and digests to the model storage."""
        with self._model_storage.write_to(self._resource) as folder:
            arrays: Dict[str, np.ndarray] = {}
            meta: Dict[str, Any] = {}
            for language, reference in self.references.items():
                arrays[f"{language}_articles"] = reference.article_rows.astype(np.float16)
                arrays[f"{language}_owners"] = reference.owners
                arrays[f"{language}_questions"] = reference.question_rows.astype(np.float16)
                meta[language] = {"keys": reference.keys, "digests": reference.digests}
            np.savez(folder / STATES_FILE, **arrays)
            (folder / META_FILE).write_text(json.dumps(meta), encoding="utf-8")

    @classmethod
    def load(cls, config: Dict[str, Any], model_storage: ModelStorage, resource: Resource,
             execution_context: ExecutionContext, **kwargs: Any) -> ArticleCoverage:
        """Loads the pieces kept by :meth:`train` (checks nothing if there are none)."""
        try:
            with model_storage.read_from(resource) as folder:
                meta = json.loads((folder / META_FILE).read_text(encoding="utf-8"))
                with np.load(folder / STATES_FILE, allow_pickle=False) as arrays:
                    references = {
                        language: ArticleReference(entry["keys"], entry["digests"],
                                                   arrays[f"{language}_articles"].astype(np.float32),
                                                   arrays[f"{language}_owners"],
                                                   arrays[f"{language}_questions"].astype(np.float32))
                        for language, entry in meta.items()
                    }
        except (ValueError, FileNotFoundError, KeyError):
            logger.debug("No trained article coverage in resource '%s'.", resource.name)
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, references)
