"""Near-domain benchmark: does the bot know when it doesn't know?

Run with ``python -m bench.near_domain [--model models/x.tar.gz] [--record LABEL]``.

The questions are ``bench/data/near_domain/{en,he}.yml`` (written for this
benchmark; never training data): questions a shop's customers would ask that
Kesher's content does not answer, and paraphrases of every FAQ, of the core
requests and of a few help-centre articles. A fixed split (stated in the files)
keeps a validation half for calibrating thresholds and a test half for reporting.
A calibration set (``bench/data/near_domain/calibration``) joins the validation half.
A second set (``bench/data/near_domain/held_out``), written later from the shop's
answers alone, is only reported: never swept, its questions never printed.

The trained model is loaded in-process (``rasa.core.agent.Agent``) and every
question parsed once. What the bot would then answer is worked out from the
parse the way the rules and actions do it (``data/rules``, ``actions/``):

- below the intent threshold (FallbackClassifier), or an FAQ below the FAQ
  threshold: ``action_fallback``, which searches the help centre and, if no
  article scores high enough, takes the honest path;
- ``out_of_scope``: an article only above ``OUT_OF_SCOPE_MIN_SCORE``, else the
  honest path; ``kb_question``: an article, else "nothing found" and a person
  offered (honest); ``human_handoff``: a person (honest for what the shop cannot
  answer);
- ``faq``: that FAQ's answer; any other intent: that intent's flow.

So the thresholds can be swept on the validation half without retraining: the
parse keeps the classifier's own confidences (the FallbackClassifier only puts
``nlu_fallback`` in front of the ranking). The script prints the trade-off
tables, the values it would choose (the lowest cost: twice the share of
unanswerable questions answered wrongly plus the share of FAQ paraphrases not
answered right, in the worse language) and the figures on the test half, both
as the model is configured and at the chosen values. ``--record`` also writes the
report into docs/benchmarks.md (section "Near-domain questions") under LABEL.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import logging
import pickle
import re
import sys
import time
from collections import Counter
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Dict, FrozenSet, Iterable, List, Optional, Sequence, Tuple, Type

import numpy as np
import yaml

from actions.fallback import FALLBACK_MIN_SCORE
from actions.kb.search import InMemoryKnowledgeBase
from actions.knowledge import KB_QUESTION_MIN_SCORE
from actions.out_of_scope import OUT_OF_SCOPE_MIN_SCORE
from bench.turns import OUT_DIR, machine
from bot.components.article_coverage import ArticleCoverage, ArticleReference, article_coverages, build_references
from bot.components.encoder_input import encoder_input
from bot.components.faq_selector import FaqSelector, coverage, coverage_skip_words
from bot.components.sentence_encoder import shared_encoder, token_states
from core.articles import Article, load_articles
from core.settings import PROJECT_ROOT, Settings
from core.suggestions import SUGGESTION

DATA_DIR = PROJECT_ROOT / "bench" / "data" / "near_domain"
# A second set, written later from the shop's answers alone (not from the training data or the first set):
# every item is HELD_OUT, reported and never swept, so it says how the thresholds chosen on the validation
# questions carry over to questions nobody tuned on.
HELD_OUT_DIR = DATA_DIR / "held_out"
HELD_OUT = "held_out"
# A third set, written like the second one, for choosing thresholds: every item is "validation", beside the
# first set's validation half (which had been read too often to choose on alone).
CALIBRATION_DIR = DATA_DIR / "calibration"
# The knowledge-base ranking tests' customer questions, each with its article: reported (never swept) for what the
# article check costs real help-centre questions, which the sets above hold only a few of.
HELP_CENTRE_QUESTIONS = PROJECT_ROOT / "tests" / "fixtures" / "kb_questions.yml"
HELP_CENTRE = "help_centre"
BENCHMARKS_MD = PROJECT_ROOT / "docs" / "benchmarks.md"
SECTION = "## Near-domain questions (`python -m bench.near_domain`)"
LANGUAGES = ("en", "he")
FALLBACK = "nlu_fallback"
HONEST = "honest"
# Intents whose reply is the honest path or a person, never another question's answer.
HONEST_ROUTES = frozenset({HONEST, "human_handoff"})

# The intent threshold (FallbackClassifier) applies to every message, also the
# dialogue's short answers this set does not hold (yes, no, an order number, an
# address), so the choice stops at 0.6; the table still shows 0.7 and 0.8.
INTENT_GRID = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)
INTENT_CHOICE_MAX = 0.6
AMBIGUITY_GRID = (0.0, 0.05, 0.1)
FAQ_GRID = (0.0, 0.3, 0.5, 0.6, 0.7, 0.8, 0.9)
KB_GRID = (0.18, 0.22, 0.26, 0.3, 0.34, 0.38)
FALLBACK_KB_GRID = (0.18, 0.26, 0.34, 0.42, 0.5, 0.6)
SIMILARITY_GRID = (0.0, 0.84, 0.86, 0.88, 0.89, 0.9, 0.91, 0.92)
# The FAQ selector's neighbours_min_margin; -1 is off (the margin is never below it).
NEIGHBOURS_OFF = -1.0
NEIGHBOURS_GRID = (NEIGHBOURS_OFF, -0.5, -0.25, 0.0, 0.25, 0.5)
# The FAQ selector's min_coverage (0: off).
COVERAGE_GRID = (0.0, 0.45, 0.5, 0.55, 0.58, 0.6, 0.62, 0.65, 0.7)
# The article check's min_coverage (0: off).
KB_COVERAGE_GRID = (0.0, 0.55, 0.58, 0.6, 0.62, 0.65, 0.68, 0.7)
# The FAQ selector's suggest_min_confidence when it offers no question.
OFFER_OFF = 2.0
# A wrong answer misleads the customer; a missed FAQ costs a rephrasing or a
# person, which the honest path offers: the first counts three times (see choose()).
WRONG_WEIGHT = 3.0


@dataclass(frozen=True)
class Item:
    """One question of the set and what a right reply is."""

    language: str
    text: str
    expected: Optional[str]  # None: the shop has no answer
    also_ok: Tuple[str, ...]
    split: str  # "validation" or "test"

    @property
    def kind(self) -> str:
        """``unanswerable``, ``faq``, ``kb`` or ``intent``."""
        if self.expected is None:
            return "unanswerable"
        if self.expected.startswith("faq/"):
            return "faq"
        if self.expected.startswith("kb/"):
            return "kb"
        return "intent"


@dataclass(frozen=True)
class Signals:
    """What the model and the help centre say about one question."""

    intent: str  # the classifier's top intent (nlu_fallback left out)
    confidence: float
    margin: float  # top minus second intent confidence
    faq: Optional[str]  # e.g. "faq/opening_hours"
    faq_confidence: float
    kb_slug: Optional[str]
    kb_score: float
    model_fell_back: bool  # the model's own verdict, to check the simulation
    faq_similarity: float = 1.0  # e5 cosine to the nearest training example of that FAQ
    # Among the nearest training examples of all intents, that FAQ's weighted share minus out_of_scope's.
    faq_neighbours_margin: float = 1.0
    # The FAQ selector's coverage of the question's words by that FAQ's examples (1: no FAQ picked).
    faq_coverage: float = 1.0
    # The article check's coverage of the question's words by the article found (1: no article).
    kb_coverage: float = 1.0
    # The answer whose question the model offered with its fallback (core/suggestions.py), if any.
    offered: Optional[str] = None


@dataclass(frozen=True)
class Thresholds:
    """The values swept.

    ``intent`` and ``ambiguity``: the FallbackClassifier's; ``faq``: the lowest
    FAQ confidence answered; ``kb``: the bar for an article answering a
    ``kb_question``); ``fallback_kb``: the bar for an article after the NLU fell
    back (``actions.fallback.FALLBACK_MIN_SCORE``); ``faq_similarity``: the FAQ
    selector's ``min_similarity`` (e5 cosine to the nearest example of the answer);
    ``faq_neighbours``: its ``neighbours_min_margin`` (:data:`NEIGHBOURS_OFF`: off);
    ``faq_coverage``: its ``min_coverage`` (0: off); ``kb_coverage``: the article
    check's ``min_coverage`` (``bot/components/article_coverage.py``; 0: off).
    """

    intent: float
    ambiguity: float
    faq: float
    kb: float
    fallback_kb: float
    faq_similarity: float = 0.0
    faq_neighbours: float = NEIGHBOURS_OFF
    faq_coverage: float = 0.0
    kb_coverage: float = 0.0
    suggest: float = OFFER_OFF

    def row(self) -> str:
        """The values as one line of the report."""
        return (f"intent {self.intent:.2f}, ambiguity {self.ambiguity:.2f}, FAQ {self.faq:.2f}, "
                f"FAQ similarity {self.faq_similarity:.2f}, FAQ neighbours' margin {self.faq_neighbours:.2f}, "
                f"FAQ coverage {self.faq_coverage:.2f}, "
                f"article {self.kb:.2f}, "
                f"article after a fallback {self.fallback_kb:.2f}, article coverage {self.kb_coverage:.2f}")


def _entries(raw: Iterable[Any]) -> Iterable[Tuple[str, Tuple[str, ...]]]:
    for entry in raw:
        if isinstance(entry, str):
            yield entry, ()
        else:
            yield str(entry["text"]), tuple(entry.get("also_ok") or ())


def _split(index: int) -> str:
    return "validation" if index % 2 == 0 else "test"


def load_items(language: str, data_dir: Path = DATA_DIR, split: Optional[str] = None) -> List[Item]:
    """The questions of one language, each with its split.

    Args:
        language: ``en`` or ``he``.
        data_dir: the folder holding ``<language>.yml``.
        split: every item's split; ``None``: the file's alternating validation/test split.
    """
    data = yaml.safe_load((data_dir / f"{language}.yml").read_text(encoding="utf-8"))

    def split_of(index: int) -> str:
        return split or _split(index)

    items = [Item(language, text, None, ok, split_of(i))
             for i, (text, ok) in enumerate(_entries(data["unanswerable"]))]
    for expected, entries in data["answerable"].items():
        items += [Item(language, text, expected, ok, split_of(i)) for i, (text, ok) in enumerate(_entries(entries))]
    return items


def all_items(held_out_dir: Path = HELD_OUT_DIR, calibration_dir: Path = CALIBRATION_DIR) -> List[Item]:
    """Every set, both languages: the first set's halves, the calibration set (validation), the second set."""
    items = [item for language in LANGUAGES for item in load_items(language)]
    if calibration_dir.is_dir():
        items += [item for language in LANGUAGES for item in load_items(language, calibration_dir, "validation")]
    if held_out_dir.is_dir():
        items += [item for language in LANGUAGES for item in load_items(language, held_out_dir, HELD_OUT)]
    return items


def help_centre_items(path: Path = HELP_CENTRE_QUESTIONS) -> List[Item]:
    """The ranking tests' help-centre questions, each expecting its article (split :data:`HELP_CENTRE`)."""
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    return [Item(language, text, f"kb/{slug}", (), HELP_CENTRE)
            for slug, by_language in raw["questions"].items()
            for language, texts in by_language.items() for text in texts]


def help_centre_report(items: Sequence[Item], signals: Sequence[Signals], configured: Thresholds) -> List[str]:
    """How many help-centre questions get their article, as configured and at each article coverage bar."""
    chosen = [(item, s) for item, s in zip(items, signals, strict=True) if item.split == HELP_CENTRE]
    if not chosen:
        return []
    lines = [f"**Help-centre questions** (`{HELP_CENTRE_QUESTIONS.relative_to(PROJECT_ROOT)}`, the knowledge-base "
             "ranking tests' questions; never swept): answered with their article, the other thresholds as "
             "configured. Those not answered with it mostly get a core request's flow (\"where is my package\" → "
             "order status) or the honest path.", "",
             "| article coverage | " + " | ".join(f"{lang} (of {sum(i.language == lang for i, _ in chosen)})"
                                            for lang in LANGUAGES) + " |",
             "|---|" + "---|" * len(LANGUAGES)]
    for value in sorted({*KB_COVERAGE_GRID, configured.kb_coverage}):
        t = replace(configured, kb_coverage=value)
        by_language = score([i for i, _ in chosen], [s for _, s in chosen], t, HELP_CENTRE)
        mark = " ← as configured" if value == configured.kb_coverage else ""
        lines.append(f"| {value:.2f}{mark} | " + " | ".join(_pct(by_language[lang].share("kb", "right"))
                                                          for lang in LANGUAGES) + " |")
    return [*lines, ""]


def configured_thresholds(config_path: Path, kb_min_score: float, fallback_min_score: float) -> Thresholds:
    """The thresholds config.yml and the knowledge base use today."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    intent, ambiguity, faq, similarity, neighbours, covered, kb_covered = 0.0, 0.0, 0.0, 0.0, NEIGHBOURS_OFF, 0.0, 0.0
    suggest = OFFER_OFF
    for component in config.get("pipeline", []):
        if component["name"] == "FallbackClassifier":
            intent = float(component.get("threshold", 0.3))
            ambiguity = float(component.get("ambiguity_threshold", 0.1))
        if component["name"].endswith("FaqSelector"):  # bot/components/faq_selector.py
            faq = float(component.get("threshold", 0.0))
            similarity = float(component.get("min_similarity", 0.0))
            if int(component.get("neighbours_k", 0)) > 0:
                neighbours = float(component.get("neighbours_min_margin", 0.0))
            covered = float(component.get("min_coverage", 0.0))
            if component.get("suggest_min_confidence") is not None:
                suggest = float(component["suggest_min_confidence"])
        if component["name"].endswith("ArticleCoverage"):  # bot/components/article_coverage.py
            kb_covered = float(component.get("min_coverage", 0.0))
    return Thresholds(intent=intent, ambiguity=ambiguity, faq=faq, kb=kb_min_score,
                      fallback_kb=max(kb_min_score, fallback_min_score), faq_similarity=similarity,
                      faq_neighbours=neighbours, faq_coverage=covered, kb_coverage=kb_covered, suggest=suggest)


def neighbour_settings(config_path: Path) -> Tuple[int, float]:
    """The FAQ selector's ``neighbours_k`` and ``neighbours_temperature`` in the config (k 0: off)."""
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for component in config.get("pipeline", []):
        if component["name"].endswith("FaqSelector"):
            return int(component.get("neighbours_k", 0)), float(component.get("neighbours_temperature", 0.02))
    return 0, 0.02


def component_settings(config_path: Path, component: Type[Any]) -> Dict[str, Any]:
    """A pipeline component's settings in the config, over its defaults (the defaults alone if it is not there)."""
    settings: Dict[str, Any] = component.get_default_config()
    config = yaml.safe_load(config_path.read_text(encoding="utf-8"))
    for entry in config.get("pipeline", []):
        if entry["name"].endswith(component.__name__):
            settings.update(entry)
    return settings


def coverage_settings(config_path: Path) -> Tuple[int, FrozenSet[str]]:
    """The FAQ selector's ``coverage_pieces`` and ``coverage_skip_words`` in the config (or its defaults)."""
    settings = component_settings(config_path, FaqSelector)
    return int(settings["coverage_pieces"]), coverage_skip_words(settings["coverage_skip_words"])


def article_settings(config_path: Path) -> Tuple[int, FrozenSet[str]]:
    """The article check's ``pieces`` and ``skip_words`` in the config (or its defaults)."""
    settings = component_settings(config_path, ArticleCoverage)
    return int(settings["pieces"]), coverage_skip_words(settings["skip_words"])


def signals_from_parse(parse: Dict[str, Any]) -> Tuple[str, float, float, Optional[str], float, bool]:
    """The classifier's own ranking and the FAQ pick, from Rasa's parse data."""
    ranking = [r for r in parse.get("intent_ranking") or [] if r.get("name") != FALLBACK]
    if not ranking:
        top = parse.get("intent") or {}
        ranking = [top] if top.get("name") not in (None, FALLBACK) else [{"name": "none", "confidence": 0.0}]
    first = ranking[0]
    second = float(ranking[1]["confidence"]) if len(ranking) > 1 else 0.0
    faq, faq_confidence = None, 0.0
    selector = (parse.get("response_selector") or {}).get("faq") or {}
    response = selector.get("response") or {}
    if response.get("intent_response_key"):
        faq = str(response["intent_response_key"])
        faq_confidence = float(response.get("confidence") or 0.0)
    fell_back = (parse.get("intent") or {}).get("name") == FALLBACK
    return str(first["name"]), float(first["confidence"]), float(first["confidence"]) - second, faq, \
        faq_confidence, fell_back


async def gather_signals(model: Path, items: Sequence[Item], neighbours: Tuple[int, float] = (0, 0.02),
                         covering: Tuple[int, FrozenSet[str]] = (2, frozenset()),
                         article_covering: Tuple[int, FrozenSet[str]] = (2, frozenset())
                         ) -> Tuple[List[Signals], float, Tuple[int, int]]:
    """Parses every question with the model and ranks the help centre for it.

    ``neighbours``: the FAQ selector's ``neighbours_k`` and ``neighbours_temperature``
    (for :func:`faq_neighbours_margins`; k 0: every margin 1, never a fallback);
    ``covering``: its ``coverage_pieces`` and ``coverage_skip_words`` (for :func:`faq_coverages`);
    ``article_covering``: the article check's ``pieces`` and ``skip_words`` (for :func:`article_coverage_of`).
    Also returns how many of the article coverages the model wrote itself agree with the simulated ones, of how many.
    """
    from rasa.core.agent import Agent  # noqa: PLC0415 - heavy; loaded only when the benchmark runs
    from rasa.utils.common import configure_logging_and_warnings  # noqa: PLC0415 - as above
    from rasa.utils.log_utils import configure_structlog  # noqa: PLC0415 - as above

    configure_logging_and_warnings(logging.WARNING)
    configure_structlog(logging.WARNING)
    agent = Agent.load(str(model))
    kb = InMemoryKnowledgeBase(PROJECT_ROOT / "data" / "kb", min_score=0.0)
    await agent.parse_message("warm up")
    start = time.perf_counter()
    parses = [await agent.parse_message(item.text) for item in items]
    per_message_ms = (time.perf_counter() - start) * 1000 / max(1, len(items))
    signals = []
    references = build_references(load_articles(PROJECT_ROOT / "data" / "kb"),
                                  [text for text, label in zip(*training_examples(), strict=True)
                                   if label == "kb_question"], Settings.from_env().embedding_cache_dir)
    agree = [0, 0]
    for item, parse in zip(items, parses, strict=True):
        intent, confidence, margin, faq, faq_confidence, fell_back = signals_from_parse(parse)
        hits = await kb.search(item.text, item.language, limit=1, min_score=0.0)
        slug, score = (hits[0].article.slug, hits[0].score) if hits else (None, 0.0)
        covered = article_coverage_of(item, hits[0].article, references, *article_covering) if hits else 1.0
        written = ((parse.get("article_coverage") or {}).get("articles") or {}).get(f"{item.language}/{slug}")
        if written:
            agree[0] += abs(written[0] - covered) < 2e-3
            agree[1] += 1
        offered = (parse.get(SUGGESTION) or {}).get("answer")
        signals.append(Signals(intent, confidence, margin, faq, faq_confidence, slug, score, fell_back,
                               kb_coverage=covered, offered=offered))
    picks = [s.faq for s in signals]
    questions, examples, labels = e5_vectors(items)
    similarities = faq_similarities(questions, examples, labels, picks)
    margins = faq_neighbours_margins(questions, examples, labels, picks, *neighbours)
    coverages = faq_coverages(items, picks, *covering)
    return [replace(s, faq_similarity=sim, faq_neighbours_margin=margin, faq_coverage=covered)
            for s, sim, margin, covered in zip(signals, similarities, margins, coverages, strict=True)], \
        per_message_ms, (agree[0], agree[1])


def article_coverage_of(item: Item, article: Article, references: Dict[str, ArticleReference], pieces: int,
                        skip_words: FrozenSet[str]) -> float:
    """The article check's coverage of a question by the article found for it, as the NLU computes it."""
    question = shared_encoder().token_states(encoder_input(item.text), skip_words=skip_words)
    return article_coverages(question, references, (item.language,), pieces)[article.key][0]


def training_examples(nlu_dir: Path = PROJECT_ROOT / "data" / "nlu") -> Tuple[List[str], List[str]]:
    """Every intent's training examples (text, intent with ``faq/<name>`` for the answers), both languages."""
    texts, labels = [], []
    for path in sorted(nlu_dir.glob("*/*.yml")):
        for block in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if not block.get("intent"):
                continue
            for line in str(block.get("examples") or "").splitlines():
                text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", line.strip().removeprefix("- ").strip())
                if text:
                    texts.append(text)
                    labels.append(str(block["intent"]))
    return texts, labels


def e5_vectors(items: Sequence[Item], nlu_dir: Path = PROJECT_ROOT / "data" / "nlu"
               ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The questions' and every training example's embeddings, and the examples' labels.

    As bot/components/faq_selector.py embeds them: multilingual-e5-small ``query:``
    embeddings (the served encoder, unit length), on the project's training data
    (:func:`training_examples`), which must be what the model was trained on.

    Returns:
        The question vectors (one row per item), the training-example vectors and
        the examples' labels (intents, ``faq/<name>`` for the answers).
    """
    texts, labels = training_examples(nlu_dir)
    encoder = shared_encoder()
    examples = encoder.encode(texts, "query")
    questions = encoder.encode([item.text for item in items], "query")
    return questions, examples, np.array(labels)


def faq_similarities(questions: np.ndarray, examples: np.ndarray, labels: np.ndarray,
                     picks: Sequence[Optional[str]]) -> List[float]:
    """For each question, the e5 cosine to the nearest training example of the FAQ picked for it.

    Computed as bot/components/faq_selector.py does for ``min_similarity``, on the
    vectors of :func:`e5_vectors`; 0 when no FAQ was picked.
    """
    is_faq = np.char.startswith(labels, "faq/")
    result = []
    for vector, pick in zip(questions, picks, strict=True):
        mask = is_faq & (labels == pick)
        result.append(float(np.max(examples[mask] @ vector)) if pick and mask.any() else 0.0)
    return result


def faq_coverages(items: Sequence[Item], picks: Sequence[Optional[str]], pieces: int,
                  skip_words: FrozenSet[str] = frozenset(),
                  nlu_dir: Path = PROJECT_ROOT / "data" / "nlu") -> List[float]:
    """For each question, the FAQ selector's coverage of its words by the examples of the FAQ picked for it.

    As bot/components/faq_selector.py computes it (:func:`~bot.components.faq_selector.coverage` of the
    encoder's per-piece states), on the project's training data, which must be what the model was trained
    on; 1.0 when no FAQ was picked.
    """
    texts, labels = training_examples(nlu_dir)
    faq_texts = [(text, label) for text, label in zip(texts, labels, strict=True) if label.startswith("faq/")]
    states = token_states([text for text, _ in faq_texts], Settings.from_env().embedding_cache_dir)
    reference: Dict[str, List[np.ndarray]] = {}
    for (_, label), rows in zip(faq_texts, states, strict=True):
        reference.setdefault(label, []).append(rows)
    stacked = {label: np.concatenate(rows) for label, rows in reference.items()}
    encoder = shared_encoder()
    result = []
    for item, pick in zip(items, picks, strict=True):
        if not pick:
            result.append(1.0)
            continue
        question = encoder.token_states(encoder_input(item.text), skip_words=skip_words)
        result.append(coverage(question, stacked.get(pick, np.zeros((0, question.shape[1]), np.float32)), pieces))
    return result


def faq_neighbours_margins(questions: np.ndarray, examples: np.ndarray, labels: np.ndarray,
                           picks: Sequence[Optional[str]], k: int, temperature: float) -> List[float]:
    """For each question, the FAQ selector's neighbours' margin for the FAQ picked for it.

    As bot/components/faq_selector.py computes it, on the vectors of
    :func:`e5_vectors`: among the ``k`` training examples of all intents nearest in
    e5 space, weighted by ``exp((cosine - nearest) / temperature)``, the share of the
    picked FAQ's examples minus the share of ``out_of_scope``'s. 1 for every question
    when ``k`` is 0.
    """
    if k <= 0:
        return [1.0] * len(questions)
    result = []
    for vector, pick in zip(questions, picks, strict=True):
        similarities = examples @ vector
        nearest = np.argpartition(-similarities, min(k, len(examples)) - 1)[:k]
        weights = np.exp((similarities[nearest] - similarities[nearest].max()) / temperature)
        near = labels[nearest]
        result.append(float((weights[near == pick].sum() - weights[near == "out_of_scope"].sum()) / weights.sum()))
    return result


def falls_back(s: Signals, t: Thresholds) -> bool:
    """Whether the NLU turns the message into ``nlu_fallback`` at these thresholds."""
    if s.confidence < t.intent or s.margin < t.ambiguity:
        return True
    return s.intent == "faq" and (s.faq_confidence < t.faq or s.faq_similarity < t.faq_similarity
                                  or s.faq_neighbours_margin < t.faq_neighbours or s.faq_coverage < t.faq_coverage)


def reply(s: Signals, t: Thresholds) -> str:
    """What the bot answers: ``faq/<name>``, ``kb/<slug>``, an intent's flow, or ``honest``."""
    article = s.kb_slug and s.kb_coverage >= t.kb_coverage
    if falls_back(s, t):
        return f"kb/{s.kb_slug}" if article and s.kb_score >= max(t.kb, t.fallback_kb) else HONEST
    if s.intent == "out_of_scope":
        return f"kb/{s.kb_slug}" if article and s.kb_score >= max(t.kb, OUT_OF_SCOPE_MIN_SCORE) else HONEST
    if s.intent == "kb_question":
        return f"kb/{s.kb_slug}" if article and s.kb_score >= t.kb else HONEST
    if s.intent == "faq":
        return s.faq or "faq/?"
    return s.intent


def offer(s: Signals, t: Thresholds) -> Optional[str]:
    """The FAQ answer whose question the honest reply offers as a button (``faq/<name>``), if any.

    As the FAQ selector and ``actions/fallback.py`` do it: the message fell back, the classifier's first intent was
    ``faq`` with an answer at ``t.suggest`` or more, and no article was shown instead.
    """
    if s.faq and s.intent == "faq" and s.faq_confidence >= t.suggest and falls_back(s, t) and reply(s, t) == HONEST:
        return s.faq
    return None


def offers_table(items: Sequence[Item], signals: Sequence[Signals], t: Thresholds) -> List[str]:
    """The questions offered with the honest reply at ``t``: a real FAQ wording one tap from its answer."""
    lines = ["| set | language | FAQ paraphrases answered right | … offered their own question | answered or offered "
             "| … offered another question | unanswerable offered a question |", "|---|---|---|---|---|---|---|"]
    for split in ("validation", "test", HELD_OUT):
        for lang in LANGUAGES:
            c: Counter[str] = Counter()
            for item, s in zip(items, signals, strict=True):
                if item.split != split or item.language != lang or item.kind not in ("faq", "unanswerable"):
                    continue
                c[item.kind] += 1
                offered = offer(s, t)
                if item.kind == "unanswerable":
                    c["unanswerable offered"] += offered is not None
                elif verdict(item, reply(s, t)) == "right":
                    c["right"] += 1
                elif offered is not None:
                    c["own" if offered == item.expected or offered in item.also_ok else "other"] += 1
            if not c["faq"]:
                continue
            faq, unanswerable = c["faq"], max(1, c["unanswerable"])
            lines.append(f"| {split} | {lang} | {_pct(c['right'] / faq)} of {faq} | {_pct(c['own'] / faq)} "
                         f"| {_pct((c['right'] + c['own']) / faq)} | {_pct(c['other'] / faq)} "
                         f"| {_pct(c['unanswerable offered'] / unanswerable)} of {c['unanswerable']} |")
    return lines


def verdict(item: Item, answer: str) -> str:
    """``right``, ``honest`` or ``wrong`` (for the unanswerable: ``ok`` when ``also_ok`` allows it)."""
    if item.expected is None:
        if answer in HONEST_ROUTES:
            return HONEST
        return "ok" if answer in item.also_ok else "wrong"
    if answer == item.expected or answer in item.also_ok:
        return "right"
    return HONEST if answer in HONEST_ROUTES else "wrong"


@dataclass
class Score:
    """Shares of one language's questions at one set of thresholds."""

    n: Counter[str]
    outcomes: Counter[Tuple[str, str]]

    def share(self, kind: str, outcome: str) -> float:
        """The share of ``kind`` questions that got ``outcome``."""
        total = self.n[kind]
        return self.outcomes[(kind, outcome)] / total if total else 0.0


def score(items: Sequence[Item], signals: Sequence[Signals], t: Thresholds, split: Optional[str]) -> Dict[str, Score]:
    """Per language: how each kind of question fared."""
    result = {language: Score(Counter(), Counter()) for language in LANGUAGES}
    for item, s in zip(items, signals, strict=True):
        if split and item.split != split:
            continue
        entry = result[item.language]
        entry.n[item.kind] += 1
        entry.outcomes[(item.kind, verdict(item, reply(s, t)))] += 1
    return result


VERDICTS = ("right", HONEST, "wrong", "ok")
KINDS = ("unanswerable", "faq", "kb", "intent")
_OTHER, _OUT_OF_SCOPE, _KB_QUESTION, _FAQ = range(4)


class Grid:
    """:func:`score` for many thresholds at once: the same routing, as numpy masks over one split."""

    def __init__(self, items: Sequence[Item], signals: Sequence[Signals], split: str) -> None:
        """Precomputes, per question, its signals and the verdict of each reply it can get."""
        chosen = [(item, s) for item, s in zip(items, signals, strict=True) if item.split == split]
        self.confidence = np.array([s.confidence for _, s in chosen])
        self.margin = np.array([s.margin for _, s in chosen])
        self.faq_confidence = np.array([s.faq_confidence for _, s in chosen])
        self.faq_similarity = np.array([s.faq_similarity for _, s in chosen])
        self.faq_neighbours_margin = np.array([s.faq_neighbours_margin for _, s in chosen])
        self.faq_coverage = np.array([s.faq_coverage for _, s in chosen])
        self.kb_score = np.array([s.kb_score if s.kb_slug else -1.0 for _, s in chosen])
        self.kb_coverage = np.array([s.kb_coverage for _, s in chosen])
        routes = {"out_of_scope": _OUT_OF_SCOPE, "kb_question": _KB_QUESTION, "faq": _FAQ}
        self.route = np.array([routes.get(s.intent, _OTHER) for _, s in chosen])
        code = {name: i for i, name in enumerate(VERDICTS)}
        self.direct = np.array([code[verdict(item, (s.faq or "faq/?") if s.intent == "faq" else s.intent)]
                                for item, s in chosen])
        self.article = np.array([code[verdict(item, f"kb/{s.kb_slug}" if s.kb_slug else HONEST)] for item, s in chosen])
        self.honest = np.array([code[verdict(item, HONEST)] for item, _ in chosen])
        self.group = np.array([LANGUAGES.index(item.language) * len(KINDS) + KINDS.index(item.kind)
                               for item, _ in chosen])
        self.sizes = np.bincount(self.group, minlength=len(LANGUAGES) * len(KINDS))

    def score(self, t: Thresholds) -> Dict[str, Score]:
        """Per language: how each kind of question fared at ``t``."""
        is_faq = self.route == _FAQ
        fell_back = ((self.confidence < t.intent) | (self.margin < t.ambiguity)
                     | (is_faq & ((self.faq_confidence < t.faq) | (self.faq_similarity < t.faq_similarity)
                                  | (self.faq_neighbours_margin < t.faq_neighbours)
                                  | (self.faq_coverage < t.faq_coverage))))
        bar = np.select([fell_back, self.route == _OUT_OF_SCOPE, self.route == _KB_QUESTION],
                        [max(t.kb, t.fallback_kb), max(t.kb, OUT_OF_SCOPE_MIN_SCORE), t.kb], np.inf)
        shown = (self.kb_score >= bar) & (self.kb_coverage >= t.kb_coverage)
        outcome = np.where(np.isfinite(bar), np.where(shown, self.article, self.honest), self.direct)
        counts = np.bincount(self.group * len(VERDICTS) + outcome,
                             minlength=len(LANGUAGES) * len(KINDS) * len(VERDICTS))
        result = {}
        for li, language in enumerate(LANGUAGES):
            n: Counter[str] = Counter()
            outcomes: Counter[Tuple[str, str]] = Counter()
            for ki, kind in enumerate(KINDS):
                group = li * len(KINDS) + ki
                n[kind] = int(self.sizes[group])
                for vi, name in enumerate(VERDICTS):
                    outcomes[(kind, name)] = int(counts[group * len(VERDICTS) + vi])
            result[language] = Score(n, outcomes)
        return result


def cost(by_language: Dict[str, Score]) -> float:
    """What the choice minimises: 3 × unanswerable answered wrongly + FAQ paraphrases not answered right.

    Taken in the worse language, so neither language pays for the other.
    """
    return max(WRONG_WEIGHT * s.share("unanswerable", "wrong") + 1 - s.share("faq", "right")
               for s in by_language.values())


def choose(grid: Grid, configured: Thresholds) -> Thresholds:
    """Sweeps the thresholds on ``grid`` (the validation questions) and picks the values.

    The choice: the lowest :func:`cost`; then the most core requests and
    articles answered right; then the values closest to ``configured`` (a
    threshold is not moved without a measured gain). The knowledge base's own
    bar stays as configured: it was chosen on the help-centre questions of
    tests/fixtures/kb_questions.yml, which a higher bar would leave unanswered
    (the sweep shows what it would change here).
    """
    kb_min_score = configured.kb
    best: Optional[Tuple[Tuple[float, ...], Thresholds]] = None
    for intent, ambiguity, faq, fallback_kb, similarity, neighbours, covered, kb_covered in itertools.product(
            [v for v in INTENT_GRID if v <= INTENT_CHOICE_MAX], AMBIGUITY_GRID, FAQ_GRID, FALLBACK_KB_GRID,
            SIMILARITY_GRID, NEIGHBOURS_GRID if configured.faq_neighbours != NEIGHBOURS_OFF else (NEIGHBOURS_OFF,),
            COVERAGE_GRID, KB_COVERAGE_GRID):
        t = Thresholds(intent, ambiguity, faq, kb_min_score, max(fallback_kb, kb_min_score), similarity, neighbours,
                       covered, kb_covered)
        by_language = grid.score(t)
        rest = sum(s.share("intent", "right") + s.share("kb", "right") for s in by_language.values())
        moved = (abs(t.intent - configured.intent) + abs(t.ambiguity - configured.ambiguity)
                 + abs(t.faq - configured.faq) + abs(t.fallback_kb - configured.fallback_kb)
                 + abs(t.faq_similarity - configured.faq_similarity)
                 + abs(t.faq_neighbours - configured.faq_neighbours)
                 + abs(t.faq_coverage - configured.faq_coverage) + abs(t.kb_coverage - configured.kb_coverage))
        key = (round(cost(by_language), 4), -round(rest, 4), round(moved, 4))
        if best is None or key < best[0]:
            best = (key, t)
    assert best is not None
    return best[1]


def _pct(value: float) -> str:
    return f"{value * 100:.1f} %"


def figures_table(rows: Sequence[Tuple[str, Dict[str, Score]]]) -> List[str]:
    """A table of the headline shares, one row per (label, language)."""
    lines = [
        "| thresholds | language | unanswerable answered wrongly | … honestly | FAQ paraphrases answered right "
        "| … honest path | … another answer | core requests right | articles right |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for label, by_language in rows:
        for language, s in by_language.items():
            lines.append(
                f"| {label} | {language} | {_pct(s.share('unanswerable', 'wrong'))} of {s.n['unanswerable']} "
                f"| {_pct(s.share('unanswerable', HONEST) + s.share('unanswerable', 'ok'))} "
                f"| {_pct(s.share('faq', 'right'))} of {s.n['faq']} | {_pct(s.share('faq', HONEST))} "
                f"| {_pct(s.share('faq', 'wrong'))} | {_pct(s.share('intent', 'right'))} of {s.n['intent']} "
                f"| {_pct(s.share('kb', 'right'))} of {s.n['kb']} |"
            )
    return lines


def sweep_table(name: str, values: Sequence[float], chosen: Thresholds, grid: Grid) -> List[str]:
    """One threshold varied, the others at the chosen values (validation questions)."""
    lines = [
        f"| {name} | wrong en | wrong he | FAQ right en | FAQ right he | core right en | core right he "
        "| articles right en | articles right he | cost |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for value in values:
        t = replace(chosen, **{name: value})
        by_language = grid.score(t)
        mark = " ←" if t == chosen else ""
        cells = [f"{value:.2f}{mark}"]
        cells += [_pct(by_language[lang].share("unanswerable", "wrong")) for lang in LANGUAGES]
        cells += [_pct(by_language[lang].share("faq", "right")) for lang in LANGUAGES]
        cells += [_pct(by_language[lang].share("intent", "right")) for lang in LANGUAGES]
        cells += [_pct(by_language[lang].share("kb", "right")) for lang in LANGUAGES]
        cells.append(f"{cost(by_language):.3f}")
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def mistakes(items: Sequence[Item], signals: Sequence[Signals], t: Thresholds, split: str) -> List[str]:
    """The questions of a split answered wrongly, with what they got."""
    lines = []
    for item, s in zip(items, signals, strict=True):
        if item.split != split:
            continue
        answer = reply(s, t)
        if verdict(item, answer) == "wrong":
            lines.append(f"- {item.language} `{item.text}` → {answer} (expected {item.expected or 'honest'}; "
                         f"intent {s.intent} {s.confidence:.2f}, FAQ {s.faq} {s.faq_confidence:.2f}, "
                         f"article {s.kb_slug} {s.kb_score:.2f} coverage {s.kb_coverage:.2f})")
    return lines


def misses(items: Sequence[Item], signals: Sequence[Signals], t: Thresholds, split: str) -> List[str]:
    """The questions of a split not answered right: answered wrongly, or answerable and sent the honest path."""
    lines = []
    for item, s in zip(items, signals, strict=True):
        if item.split != split:
            continue
        answer = reply(s, t)
        if verdict(item, answer) == "wrong" or (item.expected is not None and verdict(item, answer) == HONEST):
            lines.append(f"- {item.language} `{item.text}` → {answer} (expected {item.expected or 'honest'}; "
                         f"intent {s.intent} {s.confidence:.2f} margin {s.margin:.2f}, FAQ {s.faq} "
                         f"{s.faq_confidence:.2f} similarity {s.faq_similarity:.3f}, "
                         f"article {s.kb_slug} {s.kb_score:.2f} coverage {s.kb_coverage:.2f})")
    return lines


def held_out_report(items: Sequence[Item], signals: Sequence[Signals], configured: Thresholds,
                    chosen: Thresholds) -> List[str]:
    """The second set's figures (none when it is absent); its questions are never listed, to keep it untuned."""
    counts = {lang: Counter(i.kind for i in items if i.language == lang and i.split == HELD_OUT) for lang in LANGUAGES}
    if not any(counts.values()):
        return []
    return [
        "**Second set** (`bench/data/near_domain/held_out`, written from the shop's answers only; never swept, "
        "its questions not printed): " + "; ".join(
            f"{lang}: unanswerable {c['unanswerable']}, FAQ paraphrases {c['faq']}, core requests {c['intent']}, "
            f"articles {c['kb']}" for lang, c in counts.items()),
        "",
        *figures_table([("as configured", score(items, signals, configured, HELD_OUT)),
                        ("chosen", score(items, signals, chosen, HELD_OUT))]),
        "",
    ]


def record(label: str, report: str, path: Path = BENCHMARKS_MD) -> None:
    """Puts the report in docs/benchmarks.md under the section and ``### label`` (replacing an older one)."""
    text = path.read_text(encoding="utf-8")
    block = f"### {label}\n\n{report.strip()}\n"
    if SECTION not in text:
        text = text.rstrip("\n") + f"\n\n{SECTION}\n\n{block}"
    else:
        head, _, tail = text.partition(SECTION)
        next_section = re.search(r"^## ", tail, flags=re.MULTILINE)
        body, rest = (tail[: next_section.start()], tail[next_section.start():]) if next_section else (tail, "")
        pattern = re.compile(rf"^### {re.escape(label)}\n.*?(?=^### |\Z)", flags=re.MULTILINE | re.DOTALL)
        if pattern.search(body):
            body = pattern.sub(lambda _: block + "\n", body)
        else:
            body = body.rstrip("\n") + f"\n\n{block}\n"
        text = head + SECTION + body.rstrip("\n") + "\n\n" + rest if rest else head + SECTION + body
    path.write_text(text.rstrip("\n") + "\n", encoding="utf-8")


def _latest_model() -> Path:
    models = sorted((PROJECT_ROOT / "models").glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    if not models:
        raise SystemExit("no model in models/: train one (make train) or pass --model")
    return models[-1]


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", type=Path, help="trained model (default: the newest in models/)")
    parser.add_argument("--config", type=Path, default=PROJECT_ROOT / "config.yml",
                        help="the config the model was trained with (its thresholds are 'as configured')")
    parser.add_argument("--fallback-min-score", type=float, default=FALLBACK_MIN_SCORE,
                        help="the article bar after a fallback 'as configured' (default: actions/fallback.py's)")
    parser.add_argument("--record", metavar="LABEL", help="also write the report into docs/benchmarks.md")
    parser.add_argument("--signals", type=Path, help="keep the parses in this file and reuse them if it exists "
                                                      "(only for re-running the sweep on the same model)")
    parser.add_argument("--show-validation-mistakes", action="store_true",
                        help="also print the validation questions not answered right, at the chosen "
                             "and at the configured values (the questions that may be read while tuning)")
    args = parser.parse_args(argv)
    model = args.model or _latest_model()

    items = all_items() + help_centre_items()
    print(f"{len(items)} questions; parsing with {model}...", flush=True)
    if args.signals and args.signals.exists():
        signals, per_message_ms, articles_agree = pickle.loads(args.signals.read_bytes())
    else:
        signals, per_message_ms, articles_agree = asyncio.run(gather_signals(
            model, items, neighbour_settings(args.config), coverage_settings(args.config),
            article_settings(args.config)))
        if args.signals:
            args.signals.write_bytes(pickle.dumps((signals, per_message_ms, articles_agree)))
    configured = configured_thresholds(args.config, KB_QUESTION_MIN_SCORE, args.fallback_min_score)
    simulated = [falls_back(s, configured) for s in signals]
    agree = sum(sim == s.model_fell_back for sim, s in zip(simulated, signals, strict=True))
    # The model offers whenever its fallback came with the faq intent first; the action shows it only without an
    # article, as offer() does: compare the two where no article is shown.
    shown = [s for s in signals if reply(s, configured) == HONEST]
    offers_agree = sum(offer(s, configured) == s.offered for s in shown)

    validation = Grid(items, signals, "validation")
    chosen = choose(validation, configured)
    for t in (configured, chosen):  # the sweep's masks and the step-by-step routing must agree
        for split in ("validation", "test"):
            if Grid(items, signals, split).score(t) != score(items, signals, t, split):
                raise AssertionError(f"the sweep and the routing disagree at {t.row()} ({split})")
    counts = {lang: Counter((i.kind, i.split) for i in items if i.language == lang) for lang in LANGUAGES}
    lines = [
        f"Run {datetime.now().isoformat(timespec='minutes')} on {machine()}; model `{model.name}`, "
        f"config `{args.config.name}`; {per_message_ms:.1f} ms per parse in-process.",
        "",
        "Questions per language (validation: the first set's half and the calibration set / test): " + "; ".join(
            f"{lang}: unanswerable {c[('unanswerable', 'validation')]}/{c[('unanswerable', 'test')]}, "
            f"FAQ paraphrases {c[('faq', 'validation')]}/{c[('faq', 'test')]}, "
            f"core requests {c[('intent', 'validation')]}/{c[('intent', 'test')]}, "
            f"articles {c[('kb', 'validation')]}/{c[('kb', 'test')]}" for lang, c in counts.items()),
        "",
        f"As configured: {configured.row()} (the simulated fallback agrees with the model's own on "
        f"{agree}/{len(items)} questions; the article coverages the model wrote agree with the simulated ones on "
        f"{articles_agree[0]}/{articles_agree[1]}; the questions offered with the honest reply agree with the "
        f"model's on {offers_agree}/{len(shown)}).",
        f"Chosen on the validation questions: {chosen.row()} (cost {cost(validation.score(chosen)):.3f}; "
        f"as configured {cost(validation.score(configured)):.3f}).",
        "",
        "**Test half** (goal: under 5 % of unanswerable questions answered wrongly, over 95 % of FAQ "
        "paraphrases answered right):",
        "",
        *figures_table([("as configured", score(items, signals, configured, "test")),
                        ("chosen", score(items, signals, chosen, "test"))]),
        "",
        *held_out_report(items, signals, configured, chosen),
        "**Questions offered with the honest reply** (\"is this what you're asking?\", a button that sends an FAQ's "
        f"question; as configured, suggest_min_confidence {configured.suggest:.2f}):",
        "",
        *offers_table(items, signals, configured),
        "",
        *help_centre_report(items, signals, configured),
        "**Validation** (the first set's half and the calibration set):",
        "",
        *figures_table([("as configured", score(items, signals, configured, "validation")),
                        ("chosen", score(items, signals, chosen, "validation"))]),
        "",
        "**Trade-off on the validation questions**, one threshold varied, the others at the chosen values:",
    ]
    for name, grid in (("intent", INTENT_GRID), ("ambiguity", AMBIGUITY_GRID), ("faq", FAQ_GRID),
                       ("faq_similarity", SIMILARITY_GRID), ("faq_neighbours", NEIGHBOURS_GRID),
                       ("faq_coverage", COVERAGE_GRID), ("kb", KB_GRID),
                       ("fallback_kb", FALLBACK_KB_GRID), ("kb_coverage", KB_COVERAGE_GRID)):
        lines += ["", *sweep_table(name, grid, chosen, validation)]
    wrong = mistakes(items, signals, chosen, "test")
    lines += ["", f"Test-half questions answered wrongly at the chosen values ({len(wrong)}):", "", *wrong]
    report = "\n".join(lines)
    print("\n" + report)
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / f"near-domain-{datetime.now():%Y-%m-%d-%H%M}.md"
    out.write_text(report + "\n", encoding="utf-8")
    print(f"\nWritten to {out}")
    if args.record:
        record(args.record, report)
        print(f"Recorded in {BENCHMARKS_MD} under '{args.record}'")
    if args.show_validation_mistakes:
        for label, t in (("chosen", chosen), ("configured", configured)):
            missed = misses(items, signals, t, "validation")
            print(f"\nValidation-half questions not answered right at the {label} values ({len(missed)}):\n")
            print("\n".join(missed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
