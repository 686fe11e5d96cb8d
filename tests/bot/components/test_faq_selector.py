"""The FAQ selector writes Rasa's response_selector output, and admits when no answer fits."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict

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

from bot.components.faq_selector import FaqSelector
from bot.components.intent_classifier import BlankSafeLogisticRegressionClassifier
from tests.bot.components.pipeline import RESPONSES, Pipeline, training_data


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
