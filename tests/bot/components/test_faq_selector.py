"""The FAQ selector writes Rasa's response_selector output, and admits when no answer fits."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

import numpy as np
import pytest
from rasa.core.actions.action import ActionRetrieveResponse
from rasa.core.channels import CollectingOutputChannel
from rasa.core.nlg import TemplatedNaturalLanguageGenerator
from rasa.engine.storage.resource import Resource
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import BotUttered, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from bot.components.faq_selector import FaqSelector, coverage
from bot.components.intent_classifier import BlankSafeLogisticRegressionClassifier
from core.suggestions import SUGGESTION, suggested_question
from tests.bot.components.pipeline import EXAMPLES, RESPONSES, Pipeline, training_data


@pytest.fixture(scope="module")
def intents(pipeline: Pipeline) -> BlankSafeLogisticRegressionClassifier:
    classifier = BlankSafeLogisticRegressionClassifier.create(
        {**BlankSafeLogisticRegressionClassifier.get_default_config(), "calibration_folds": 2},
        pipeline.storage, Resource("intents"), pipeline.context("intents"),
    )
    classifier.train(pipeline.data)
    return classifier


def _selector(pipeline: Pipeline, **config: Any) -> FaqSelector:
    selector = FaqSelector.create({**FaqSelector.get_default_config(), "calibration_folds": 2, **config},
                                  pipeline.storage, Resource("faq"), pipeline.context("faq"))
    selector.train(pipeline.data)
    return selector


def _parse(pipeline: Pipeline, intents: BlankSafeLogisticRegressionClassifier, selector: FaqSelector,
           text: str) -> Message:
    message = pipeline.featurize(text)[0]
    intents.process([message])
    selector.process([message])
    return message


def test_the_output_has_response_selectors_shape(pipeline, intents):
    message = _parse(pipeline, intents, _selector(pipeline, threshold=0.0), "what time do you open on sunday")
    output = message.as_dict(only_output_properties=True)["response_selector"]
    assert output["all_retrieval_intents"] == ["faq"]
    prediction = output["faq"]["response"]
    assert prediction["intent_response_key"] == "faq/opening_hours"
    assert prediction["utter_action"] == "utter_faq/opening_hours"
    assert prediction["responses"] == RESPONSES["utter_faq/opening_hours"]
    assert 0.5 < prediction["confidence"] <= 1.0
    ranking = output["faq"]["ranking"]
    assert [set(r) for r in ranking] == [{"confidence", "intent_response_key"}] * 2
    assert ranking[0]["intent_response_key"] == "faq/opening_hours"


async def test_rasas_retrieval_action_answers_from_it(pipeline, intents):
    message = _parse(pipeline, intents, _selector(pipeline, threshold=0.0), "איך אפשר להחזיר מוצר שקניתי?")
    domain = Domain.from_dict({"intents": ["faq"], "responses": RESPONSES, "actions": ["utter_faq"]})
    parse_data: Dict[str, Any] = message.as_dict(only_output_properties=True)
    tracker = DialogueStateTracker.from_events("customer", [UserUttered(message.get("text"), parse_data=parse_data)])
    events = await ActionRetrieveResponse("utter_faq").run(
        CollectingOutputChannel(), TemplatedNaturalLanguageGenerator(domain.responses), tracker, domain
    )
    assert [e.text for e in events if isinstance(e, BotUttered)] == [RESPONSES["utter_faq/returns_policy"][0]["text"]]


def test_an_unsure_faq_becomes_nlu_fallback_keeping_the_ranking(pipeline, intents):
    text = "when can I come by to return something"  # between two answers
    sure = _parse(pipeline, intents, _selector(pipeline, threshold=0.0), text)
    assert sure.get("intent")["name"] == "faq"
    best = sure.get("response_selector")["faq"]["response"]["confidence"]
    assert best < 1.0
    bar = (best + 1.0) / 2  # just above what the best answer reaches
    unsure = _parse(pipeline, intents, _selector(pipeline, threshold=bar), text)
    assert unsure.get("intent") == {"name": "nlu_fallback", "confidence": bar}
    ranking = unsure.get("intent_ranking")
    assert ranking[0] == {"name": "nlu_fallback", "confidence": bar}
    assert ranking[1:] == sure.get("intent_ranking")  # what Rasa's test report undoes
    # The selection is still reported (rasa test nlu measures it), but nothing answers from it.
    assert unsure.get("response_selector") == sure.get("response_selector")


def test_a_message_far_from_every_example_falls_back(pipeline, intents):
    strict = _selector(pipeline, threshold=0.0, min_similarity=0.95)
    message = _parse(pipeline, intents, strict, "are your candles vegan?")
    if message.get("intent_ranking")[0]["name"] != "nlu_fallback":  # the intent was faq...
        pytest.fail(f"answered {message.get('response_selector')['faq']['response']['intent_response_key']}")
    exact = _parse(pipeline, intents, strict, "what are your opening hours")  # a training example: similarity 1
    assert exact.get("intent")["name"] == "faq"


def test_other_intents_are_left_alone(pipeline, intents):
    message = _parse(pipeline, intents, _selector(pipeline, threshold=0.999), "hello there")
    assert message.get("intent")["name"] == "greet"


def test_the_selector_is_persisted_and_loaded(pipeline: Pipeline, intents, tmp_path: Path):
    trained = _selector(pipeline, min_similarity=0.5)
    loaded = FaqSelector.load({**FaqSelector.get_default_config(), "min_similarity": 0.5}, pipeline.storage,
                              Resource("faq"), pipeline.context("faq"))
    a = _parse(pipeline, intents, trained, "can i send back a blender")
    b = _parse(pipeline, intents, loaded, "can i send back a blender")
    assert a.get("response_selector") == b.get("response_selector")
    assert a.get("intent") == b.get("intent")
    assert loaded.examples is not None and loaded.examples.shape[1] == 384


def test_an_unsure_faq_offers_the_answers_question_in_each_language(pipeline, intents):
    text = "when can I come by to return something"
    sure = _parse(pipeline, intents, _selector(pipeline, threshold=0.0), text)
    best = sure.get("response_selector")["faq"]["response"]
    bar = (best["confidence"] + 1.0) / 2
    offered = _parse(pipeline, intents, _selector(pipeline, threshold=bar, suggest_min_confidence=0.0), text)
    parse = offered.as_dict(only_output_properties=True)
    assert parse["intent"]["name"] == "nlu_fallback"
    suggestion = parse[SUGGESTION]
    assert suggestion["answer"] == best["intent_response_key"]
    english, hebrew = suggested_question(parse, "en"), suggested_question(parse, "he")
    # Each is one of that answer's own examples in that language, so a tap is answered.
    examples = EXAMPLES[best["intent_response_key"]]
    assert english in examples and hebrew in examples
    assert not any("\u05d0" <= ch <= "\u05ea" for ch in english)
    assert any("\u05d0" <= ch <= "\u05ea" for ch in hebrew)
    assert len(english.split()) >= 3  # a question, not "refund?"


def test_no_question_is_offered_below_its_bar_or_when_the_answer_is_given(pipeline, intents):
    text = "when can I come by to return something"
    sure = _parse(pipeline, intents, _selector(pipeline, threshold=0.0, suggest_min_confidence=0.0), text)
    assert sure.get("intent")["name"] == "faq" and sure.get(SUGGESTION) is None  # answered: nothing to offer
    confidence = sure.get("response_selector")["faq"]["response"]["confidence"]
    unsure = dict(threshold=(confidence + 1.0) / 2)
    assert _parse(pipeline, intents, _selector(pipeline, **unsure), text).get(SUGGESTION) is None  # off by default
    above = _selector(pipeline, **unsure, suggest_min_confidence=min(1.0, confidence + 0.01))
    assert _parse(pipeline, intents, above, text).get(SUGGESTION) is None


def test_a_fallback_of_another_intent_offers_no_faq_question(pipeline, intents):
    message = _parse(pipeline, intents, _selector(pipeline, threshold=0.999, suggest_min_confidence=0.0),
                     "hello there")
    assert message.get("intent")["name"] == "greet" and message.get(SUGGESTION) is None


def test_the_offered_questions_are_persisted_and_loaded(pipeline, intents):
    config = {"threshold": 0.999, "suggest_min_confidence": 0.0}
    trained = _selector(pipeline, **config)
    loaded = FaqSelector.load({**FaqSelector.get_default_config(), **config}, pipeline.storage, Resource("faq"),
                              pipeline.context("faq"))
    assert loaded.questions == trained.questions
    assert set(trained.questions) == {"faq/opening_hours", "faq/returns_policy"}
    assert all(set(by_language) == {"en", "he"} for by_language in trained.questions.values())
    a = _parse(pipeline, intents, trained, "can i send back a blender")
    b = _parse(pipeline, intents, loaded, "can i send back a blender")
    assert a.get(SUGGESTION) == b.get(SUGGESTION) is not None


OUT_OF_SCOPE = [
    "is there wifi in the store", "do you have toilets in the store", "is there a cafe in the store",
    "can I park next to the store", "can I bring my dog into the store", "is the store wheelchair accessible",
    "יש וויפיי בחנות", "יש שירותים בחנות", "יש בית קפה בחנות", "אפשר לחנות ליד החנות",
]


@pytest.fixture(scope="module")
def with_out_of_scope(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    data = training_data()
    extra = [Message({"text": text, "intent": "out_of_scope"}) for text in OUT_OF_SCOPE]
    merged = TrainingData(data.training_examples + extra, responses=RESPONSES)
    return Pipeline(tmp_path_factory.mktemp("storage"), tmp_path_factory.mktemp("cache"), merged)


def _as_faq(pipeline: Pipeline, selector: FaqSelector, text: str) -> Message:
    """The selector's verdict on ``text`` when the intent classifier said ``faq`` (what it acts on)."""
    message = pipeline.featurize(text)[0]
    message.set("intent", {"name": "faq", "confidence": 0.9}, add_to_output=True)
    message.set("intent_ranking", [{"name": "faq", "confidence": 0.9}], add_to_output=True)
    selector.process([message])
    return message


def test_a_question_nearer_out_of_scope_than_the_answer_falls_back(with_out_of_scope):
    question = "is there a lift in the store"  # a store question no answer covers
    answered = _as_faq(with_out_of_scope, _selector(with_out_of_scope, threshold=0.0), question)
    assert answered.get("intent")["name"] == "faq"  # without the neighbours, some answer is given
    honest = _as_faq(with_out_of_scope, _selector(with_out_of_scope, threshold=0.0, neighbours_k=5), question)
    assert honest.get("intent")["name"] == "nlu_fallback"
    assert honest.get("intent_ranking")[1:] == answered.get("intent_ranking")


def test_the_neighbours_leave_a_real_question_answered(with_out_of_scope):
    selector = _selector(with_out_of_scope, threshold=0.0, neighbours_k=5)
    for text, answer in [("what time do you open on sunday", "faq/opening_hours"),
                         ("עד מתי אפשר להחזיר מוצר", "faq/returns_policy")]:
        message = _as_faq(with_out_of_scope, selector, text)
        assert message.get("intent")["name"] == "faq", text
        assert message.get("response_selector")["faq"]["response"]["intent_response_key"] == answer


def test_the_neighbours_are_persisted_and_loaded(with_out_of_scope):
    trained = _selector(with_out_of_scope, threshold=0.0, neighbours_k=5)
    config = {**FaqSelector.get_default_config(), "threshold": 0.0, "neighbours_k": 5}
    loaded = FaqSelector.load(config, with_out_of_scope.storage, Resource("faq"), with_out_of_scope.context("faq"))
    assert loaded.neighbours is not None
    assert loaded.neighbours.shape == (len(with_out_of_scope.data.intent_examples), 384)
    question = "is there a lift in the store"
    assert _as_faq(with_out_of_scope, loaded, question).get("intent") == \
        _as_faq(with_out_of_scope, trained, question).get("intent")


@pytest.fixture(scope="module")
def covering(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> FaqSelector:
    """A selector whose only extra check is the coverage one (at config.yml's bar), in a resource of its own."""
    config = {**FaqSelector.get_default_config(), "calibration_folds": 2, "threshold": 0.0, "min_coverage": 0.6,
              "cache_dir": str(tmp_path_factory.mktemp("pieces"))}
    selector = FaqSelector.create(config, pipeline.storage, Resource("faq-covering"), pipeline.context("faq"))
    selector.train(pipeline.data)
    return selector


@pytest.mark.parametrize("question", [
    "are you open on yom kippur",  # the hours answer does not say
    "אפשר להחזיר מוצר שקניתי בביטקוין",  # the returns answer says nothing of how it was paid
])
def test_a_detail_no_example_asks_about_falls_back(pipeline, intents, covering, question):
    plain = _parse(pipeline, intents, _selector(pipeline, threshold=0.0), question)
    assert plain.get("intent")["name"] == "faq"  # without the check, an answer on the topic is given
    honest = _parse(pipeline, intents, covering, question)
    assert honest.get("intent")["name"] == "nlu_fallback"
    assert honest.get("response_selector") == plain.get("response_selector")


@pytest.mark.parametrize("question, answer", [
    ("what time do you open on sunday", "faq/opening_hours"),
    ("oh wait, are you open on friday", "faq/opening_hours"),  # the interjections are not asked for
    ("hold on, when are you open", "faq/opening_hours"),
])
def test_a_new_wording_of_an_answered_question_is_answered(pipeline, intents, covering, question, answer):
    message = _parse(pipeline, intents, covering, question)
    assert message.get("intent")["name"] == "faq"
    assert message.get("response_selector")["faq"]["response"]["intent_response_key"] == answer


def test_only_the_listed_interjections_are_left_out(pipeline, covering):
    message = pipeline.featurize("oh wait, are you open on friday")[0]
    label = covering.model.classes.index("faq/opening_hours") if covering.model else -1
    with_list = covering.coverage(message, label)
    without = FaqSelector(
        {**covering.config, "coverage_skip_words": []}, pipeline.storage, Resource("unused"), covering.model,
        covering.responses, covering.all_retrieval_intents, pieces=covering.pieces, piece_labels=covering.piece_labels,
    ).coverage(message, label)
    assert with_list is not None and without is not None
    assert without < 0.6 <= with_list


def test_the_pieces_are_persisted_and_loaded(pipeline, intents, covering):
    config = {**FaqSelector.get_default_config(), "threshold": 0.0, "min_coverage": 0.6}
    loaded = FaqSelector.load(config, pipeline.storage, Resource("faq-covering"), pipeline.context("faq"))
    assert loaded.pieces is not None and covering.pieces is not None
    assert loaded.pieces.shape == covering.pieces.shape and loaded.pieces.shape[1] == 384
    for question in ("are you open on yom kippur", "what time do you open on sunday"):
        assert _parse(pipeline, intents, loaded, question).get("intent") == \
            _parse(pipeline, intents, covering, question).get("intent")


def test_coverage_averages_the_worst_matched_pieces():
    reference = np.eye(4, dtype=np.float32)[:2]  # two pieces: e0 and e1
    question = np.array([[1, 0, 0, 0], [0, 0.6, 0.8, 0], [0, 0, 0, 1]], dtype=np.float32)
    assert coverage(question, reference, 1) == pytest.approx(0.0)  # e3 is like nothing in the examples
    assert coverage(question, reference, 2) == pytest.approx(0.3)
    assert coverage(question, reference, 3) == pytest.approx((1.0 + 0.6 + 0.0) / 3)
    assert coverage(question[:0], reference, 2) == 1.0  # no word: nothing to ask for
    assert coverage(question, reference[:0], 2) == 0.0  # an answer with no examples covers nothing
