"""The article check: how well each help-centre article covers the words of a question sent to the help centre."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any, Dict, List

import numpy as np
import pytest
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import INTENT, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.article_coverage import PROPERTY, ArticleCoverage, ArticleReference
from core.articles import load_articles
from core.settings import PROJECT_ROOT
from tests.bot.components.pipeline import Pipeline

ARTICLES = ("gift-wrapping", "damaged-item")
HELP_QUESTIONS = [
    "can you wrap my order as a present", "my parcel came broken, what now", "the box arrived crushed",
    "אפשר לעטוף את ההזמנה למתנה", "החבילה הגיעה שבורה מה עושים",
]
BAR = 0.62


@pytest.fixture(scope="module")
def kb_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two of the shop's articles in both languages."""
    root = tmp_path_factory.mktemp("kb")
    for language in ("en", "he"):
        (root / language).mkdir()
        for slug in ARTICLES:
            shutil.copy(PROJECT_ROOT / "data" / "kb" / language / f"{slug}.md", root / language / f"{slug}.md")
    return root


def _component(storage: Path, kb_dir: Path, cache: Path, name: str = "articles", **config: Any) -> ArticleCoverage:
    storage.mkdir(parents=True, exist_ok=True)
    component = ArticleCoverage.create(
        {**ArticleCoverage.get_default_config(), "kb_dir": str(kb_dir), "min_coverage": BAR, "cache_dir": str(cache),
         **config},
        LocalModelStorage(storage), Resource(name), Pipeline.context(name))
    data = TrainingData([Message({TEXT: text, INTENT: "kb_question"}) for text in HELP_QUESTIONS]
                        + [Message({TEXT: "where is my order", INTENT: "order_status"})])
    component.train(data)
    return component


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory, kb_dir: Path) -> ArticleCoverage:
    return _component(tmp_path_factory.mktemp("storage"), kb_dir, tmp_path_factory.mktemp("cache"))


def _check(component: ArticleCoverage, text: str, intent: str = "kb_question") -> Dict[str, Any]:
    message = Message({TEXT: text, INTENT: {"name": intent, "confidence": 0.9}})
    component.process([message])
    return dict(message.as_dict(only_output_properties=True).get(PROPERTY) or {})


def _coverage(component: ArticleCoverage, text: str, key: str) -> float:
    return float(_check(component, text)["articles"][key][0])


def test_a_question_the_article_answers_is_covered(trained):
    for text in ("can you gift wrap the order and add a card with a message?",
                 "what if my order arrives with a broken item?"):
        found = _check(trained, text)
        best = max(found["articles"], key=lambda key: found["articles"][key][0])
        assert found["articles"][best][0] >= BAR, found


def test_a_detail_the_article_does_not_give_is_not_covered(trained):
    answered = _coverage(trained, "can you gift wrap my order?", "en/gift-wrapping")
    detail = _coverage(trained, "can you gift wrap my order in a wooden crate engraved with a poem?",
                       "en/gift-wrapping")
    assert detail < BAR <= answered


def test_hebrew_questions_are_measured_against_the_hebrew_articles(trained):
    found = _check(trained, "אפשר לעטוף מתנה ולצרף כרטיס ברכה?")
    assert set(found["articles"]) == {f"he/{slug}" for slug in ARTICLES}
    assert found["articles"]["he/gift-wrapping"][0] >= BAR
    assert _coverage(trained, "אפשר לעטוף מתנה בארגז עץ עם חריטה של שיר?", "he/gift-wrapping") < BAR


def test_the_output_names_the_bar_and_the_article_version_measured(trained, kb_dir):
    found = _check(trained, "can you gift wrap my order?")
    articles = load_articles(kb_dir)["en"]
    assert found["min_coverage"] == BAR
    assert {key: digest for key, (_, digest) in found["articles"].items()} == {a.key: a.digest for a in articles}


@pytest.mark.parametrize("intent", ["kb_question", "nlu_fallback", "out_of_scope"])
def test_messages_sent_to_the_help_centre_are_checked(trained, intent):
    assert _check(trained, "can you gift wrap my order?", intent)


@pytest.mark.parametrize("intent", ["faq", "order_status", "greet"])
def test_other_messages_carry_nothing(trained, intent):
    assert _check(trained, "can you gift wrap my order?", intent) == {}


def test_a_message_of_fillers_only_is_covered_by_every_article(trained):
    found = _check(trained, "hi, um, ok")
    assert found and all(value == 1.0 for value, _ in found["articles"].values())


def test_it_checks_nothing_when_turned_off(tmp_path, kb_dir):
    component = _component(tmp_path / "storage", kb_dir, tmp_path / "cache", min_coverage=0.0)
    assert _check(component, "can you gift wrap my order?") == {}


def test_a_loaded_model_measures_the_same(tmp_path, kb_dir):
    storage = tmp_path / "storage"
    trained = _component(storage, kb_dir, tmp_path / "cache")
    loaded = ArticleCoverage.load({**trained.config}, LocalModelStorage(storage), Resource("articles"),
                                  Pipeline.context("articles"))
    texts: List[str] = ["can you gift wrap my order in a wooden crate?", "החבילה הגיעה מעוכה"]
    for text in texts:
        expected, got = _check(trained, text)["articles"], _check(loaded, text)["articles"]
        assert got.keys() == expected.keys()
        for key, (value, digest) in got.items():
            assert digest == expected[key][1]
            assert value == pytest.approx(expected[key][0], abs=2e-3)  # the pieces are kept as float16


def test_an_article_edit_changes_the_fingerprint_so_ship_retrains_it(tmp_path, kb_dir):
    copy = tmp_path / "kb"
    shutil.copytree(kb_dir, copy)
    config = {"kb_dir": str(copy)}
    before = ArticleCoverage.fingerprint_addon(config)
    path = copy / "en" / "gift-wrapping.md"
    path.write_text(path.read_text(encoding="utf-8").replace("₪12", "₪15"), encoding="utf-8")
    assert ArticleCoverage.fingerprint_addon(config) != before


def test_an_unreadable_help_centre_leaves_articles_unchecked(tmp_path):
    component = _component(tmp_path / "storage", tmp_path / "missing", tmp_path / "cache")
    assert _check(component, "can you gift wrap my order?") == {}


def test_each_article_is_measured_on_its_own_pieces_whatever_their_order():
    rows = np.eye(4, dtype=np.float32)  # four orthogonal pieces
    # Article "b" has no pieces; "c" owns the last rows, given out of order.
    reference = ArticleReference(["a", "b", "c"], ["da", "db", "dc"], rows[[3, 0, 2]], np.array([2, 0, 2]),
                                 np.zeros((0, 4), np.float32))
    question = rows[[2, 3]]
    assert reference.coverages(question, 2).tolist() == [0.0, -1.0, 1.0]  # "c" has both pieces, "a" neither
    assert reference.coverages(rows[[0]], 1).tolist() == [1.0, -1.0, 0.0]
    with_questions = ArticleReference(["a", "b", "c"], ["da", "db", "dc"], rows[[3, 0, 2]], np.array([2, 0, 2]),
                                      rows[[1]])
    assert with_questions.coverages(rows[[1]], 1).tolist() == [1.0, 1.0, 1.0]  # a help-centre question's word
