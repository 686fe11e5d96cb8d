"""The intent classifier: sparse and dense features together, calibrated, blank-safe, persisted."""

from __future__ import annotations

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components.intent_classifier import BlankSafeLogisticRegressionClassifier
from tests.bot.components.pipeline import Pipeline


def test_blank_messages_become_nlu_fallback(tmp_path):
    component = BlankSafeLogisticRegressionClassifier.create(
        BlankSafeLogisticRegressionClassifier.get_default_config(),
        LocalModelStorage(tmp_path),
        Resource("intent_classifier"),
        ExecutionContext(GraphSchema({}), "test"),
    )
    messages = [Message({TEXT: ""}), Message({TEXT: "  \n "})]
    component.process(messages)  # an untrained classifier: only blank messages may reach it
    for message in messages:
        assert message.get("intent") == {"name": "nlu_fallback", "confidence": 1.0}


def _trained(pipeline: Pipeline, **config: object) -> BlankSafeLogisticRegressionClassifier:
    classifier = BlankSafeLogisticRegressionClassifier.create(
        {**BlankSafeLogisticRegressionClassifier.get_default_config(), "calibration_folds": 2, **config},
        pipeline.storage, Resource("intents"), pipeline.context("intents"),
    )
    classifier.train(pipeline.data)
    return classifier


@pytest.mark.parametrize("knn_weight", [0.0, 0.45], ids=["svm", "svm+neighbours"])
def test_new_phrasings_in_both_languages_get_their_intent(pipeline: Pipeline, knn_weight: float):
    classifier = _trained(pipeline, knn_weight=knn_weight)
    messages = pipeline.featurize("hi!", "where's my parcel?", "מתי הקניון פתוח?", "אני רוצה להחזיר את המוצר", "")
    classifier.process(messages)
    assert [m.get("intent")["name"] for m in messages] == ["greet", "order_status", "faq", "faq", "nlu_fallback"]
    ranking = messages[1].get("intent_ranking")
    assert {r["name"] for r in ranking} == {"greet", "order_status", "faq"}  # the answers add up into faq
    assert sum(r["confidence"] for r in ranking) == pytest.approx(1.0)
    assert ranking == sorted(ranking, key=lambda r: -r["confidence"])


@pytest.mark.parametrize("knn_weight", [0.0, 0.45], ids=["svm", "svm+neighbours"])
def test_the_model_is_persisted_and_loaded(pipeline: Pipeline, knn_weight: float):
    trained = _trained(pipeline, knn_weight=knn_weight)
    loaded = BlankSafeLogisticRegressionClassifier.load(
        BlankSafeLogisticRegressionClassifier.get_default_config(), pipeline.storage, Resource("intents"),
        pipeline.context("intents"),
    )
    before, after = pipeline.featurize("are you open on saturday"), pipeline.featurize("are you open on saturday")
    trained.process(before)
    loaded.process(after)
    assert after[0].get("intent") == before[0].get("intent")
    assert after[0].get("intent")["name"] == "faq"


def test_calibration_changes_confidences_not_the_choice(pipeline: Pipeline):
    raw, calibrated = _trained(pipeline, calibration_folds=0), _trained(pipeline)
    # Texts close to one class: where every class is far (gibberish), the FAQ answers' probabilities
    # are summed into ``faq``, and how flat the softmax is decides whether that sum wins.
    texts = ["hello", "track my order please", "מה שעות הפתיחה"]
    a, b = pipeline.featurize(*texts), pipeline.featurize(*texts)
    raw.process(a)
    calibrated.process(b)
    assert [m.get("intent")["name"] for m in a] == [m.get("intent")["name"] for m in b]
    assert raw.model is not None and raw.model.temperature == 1.0
    assert calibrated.model is not None and calibrated.model.temperature != 1.0


def test_the_neighbours_vote_follows_the_closest_examples(pipeline: Pipeline):
    # With the vote alone (weight 1), a training example's own words get its class with near certainty.
    classifier = _trained(pipeline, knn_weight=1.0, knn_k=5)
    messages = pipeline.featurize("track my order please", "מה שעות הפתיחה")
    classifier.process(messages)
    assert [m.get("intent")["name"] for m in messages] == ["order_status", "faq"]
    assert all(m.get("intent")["confidence"] > 0.9 for m in messages)


@pytest.mark.parametrize("knn_weight", [0.0, 0.45], ids=["svm", "svm+neighbours"])
def test_a_turns_few_messages_get_the_probabilities_of_a_batch(pipeline: Pipeline, knn_weight: float):
    model = _trained(pipeline, knn_weight=knn_weight).model
    assert model is not None
    texts = ["hi!", "where's my parcel?", "מתי הקניון פתוח?", "אני רוצה להחזיר את המוצר", "track it"] * 2
    alone = np.vstack([model.probabilities(pipeline.featurize(text)) for text in texts])
    batch = model.probabilities(pipeline.featurize(*texts))  # more than a few: one sparse product
    assert alone.shape == batch.shape == (len(texts), len(model.classes))
    # float32 cosines for the vote: a product of one row and of ten round differently
    assert np.allclose(alone, batch, rtol=0, atol=1e-9 if knn_weight == 0 else 1e-5)


def test_fitting_side_by_side_gives_the_weights_of_fitting_one_after_the_other(pipeline: Pipeline):
    # The model and its calibration folds are fitted in two processes by default; the result must not depend on it.
    alone, side_by_side = _trained(pipeline, fit_processes=1).model, _trained(pipeline, fit_processes=2).model
    assert alone is not None and side_by_side is not None
    assert np.array_equal(alone.coef, side_by_side.coef)
    assert np.array_equal(alone.intercept, side_by_side.intercept)
    assert alone.temperature == side_by_side.temperature != 1.0
