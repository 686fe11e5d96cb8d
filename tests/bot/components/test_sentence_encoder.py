"""The e5 sentence feature: batched and cached in training, one call per message, blank-safe."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import threading
from concurrent.futures import Future
from functools import partial
from pathlib import Path
from typing import Any, Dict, List, Tuple

import numpy as np
import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.processor import MessageProcessor
from rasa.shared.nlu.constants import ACTION_NAME, TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components import sentence_encoder
from bot.components.e5_onnx import OnnxE5, Pieces
from bot.components.encoder_input import encoder_input
from bot.components.sentence_encoder import (
    EmbeddingCache,
    Prefetcher,
    SentenceEncoder,
    awaited_by_parse,
    message_token_states,
    prefetch,
    shared_encoder,
    token_states,
    until_encoded,
)
from core.settings import PROJECT_ROOT, Settings
from tests.bot.components.pipeline import sentence_vector, training_data
from tests.helpers.waiting import until_sync


def test_training_examples_and_messages_get_the_same_unit_vector(tmp_path: Path):
    encoder = SentenceEncoder({"cache_dir": str(tmp_path)}, "e5")
    data = training_data()
    encoder.process_training_data(data)
    trained = sentence_vector(data.training_examples[0])
    assert trained.shape == (1, 384)
    assert np.linalg.norm(trained) == pytest.approx(1.0, abs=1e-3)

    fresh = SentenceEncoder({"cache_dir": False}, "e5")  # computed now, not read from the cache
    message = Message({TEXT: data.training_examples[0].get(TEXT)})
    fresh.process([message])
    assert np.allclose(sentence_vector(message), trained, atol=1e-5)


def test_paraphrases_are_closer_than_other_topics_in_both_languages(tmp_path: Path):
    encoder = SentenceEncoder({"cache_dir": False}, "e5")
    hours_en, hours_he, returns_he = encoder.embed(["when are you open?", "מתי אתם פתוחים?", "איך מחזירים מוצר?"])
    assert hours_en @ hours_he > hours_he @ returns_he


def test_second_training_reads_every_vector_from_the_cache(tmp_path: Path):
    first = SentenceEncoder({"cache_dir": str(tmp_path)}, "e5")
    first.process_training_data(training_data())
    distinct = len({m.get(TEXT) for m in training_data().training_examples})
    assert (first.cache_hits, first.cache_misses) == (0, distinct)
    assert len(EmbeddingCache(tmp_path)) == distinct

    second = SentenceEncoder({"cache_dir": str(tmp_path)}, "e5")
    data = training_data()
    second.process_training_data(data)
    assert (second.cache_hits, second.cache_misses) == (distinct, 0)
    assert all(m.get_dense_features(TEXT)[1] is not None for m in data.training_examples)

    # Another prefix is another vector: it is not taken from the query cache.
    passage = SentenceEncoder({"cache_dir": str(tmp_path), "prefix": "passage"}, "e5")
    passage.process_training_data(training_data())
    assert passage.cache_misses == distinct


def test_blank_text_gets_a_vector_and_messages_without_text_are_left_alone():
    encoder = SentenceEncoder({"cache_dir": False}, "e5")
    blank, spaces, action = Message({TEXT: ""}), Message({TEXT: "   "}), Message({ACTION_NAME: "utter_greet"})
    encoder.process([blank, spaces, action])
    assert sentence_vector(blank).shape == (1, 384) and sentence_vector(spaces).shape == (1, 384)
    assert action.features == []


def test_every_model_in_a_process_shares_one_encoder():
    a = SentenceEncoder({"cache_dir": False}, "a")
    b = SentenceEncoder({"cache_dir": False}, "b")
    assert a.encoder is b.encoder is shared_encoder("original")


def test_a_bad_config_is_refused():
    with pytest.raises(ValueError, match="prefix"):
        SentenceEncoder({"prefix": "question"}, "e5")
    with pytest.raises(ValueError, match="threads"):
        SentenceEncoder({"threads": 0}, "e5")


def test_a_prefetched_message_gets_the_vector_it_would_have_got():
    prefetcher = Prefetcher(limit=2)
    prefetcher.submit("where is my order?")  # no model served yet: nothing to prefetch for
    assert prefetcher.take("original", "query", "where is my order?") is None
    prefetcher.serve("original", "query", 1)
    texts = ("where is my order?", "מתי אתם פתוחים?")
    for text in texts:
        prefetcher.submit(text)
    expected = shared_encoder().encode(list(texts), "query")
    for text, vector in zip(texts, expected, strict=True):
        # The message's parse awaits its encoding first (awaited_by_parse): so does this test.
        until_sync(partial(_encoded, prefetcher, text), what=f"the worker encoded {text!r}")
        taken = prefetcher.take("original", "query", text)
        assert taken is not None and np.allclose(taken, vector)
    assert prefetcher.take("original", "query", "where is my order?") is None  # taken once
    assert prefetcher.take("original", "passage", "anything else") is None


def test_prefetches_nobody_takes_are_dropped():
    prefetcher = Prefetcher(limit=2)
    prefetcher.serve("original", "query", 1)
    for text in ("one", "two", "three", "four"):
        prefetcher.submit(text)
    assert len(prefetcher) == 2
    assert prefetcher.take("original", "query", "one") is None


def test_the_component_takes_the_channels_prefetch(tmp_path: Path):
    encoder = SentenceEncoder({**SentenceEncoder.get_default_config(), "cache_dir": False}, "e5")
    encoder.process([Message(data={TEXT: "warm up"})])  # the served configuration is the loaded model's
    prefetch("  can I pay with paypal  ")
    until_sync(lambda: _encoded(_prefetcher(), "can I pay with paypal"), what="the prefetch done")
    message = Message(data={TEXT: "can I pay with paypal"})
    encoder.process([message])
    assert np.allclose(sentence_vector(message), shared_encoder().encode(["can I pay with paypal"], "query")[0])
    # taken by the pipeline: nothing left pending for that text
    assert _prefetcher().take("original", "query", "can I pay with paypal") is None


def _long_prefetch(long_message: str) -> Tuple[Prefetcher, Future[Any]]:
    """A warm prefetcher that is encoding ``long_message`` (hundreds of tokens: it takes a while)."""
    prefetcher = Prefetcher()
    prefetcher.serve("original", "query", 1)
    shared_encoder().encode(["warm"], "query")
    encoding = prefetcher.submit(long_message)
    assert encoding is not None
    return prefetcher, encoding


def test_another_parse_of_the_same_text_neither_waits_for_nor_takes_a_customers_pending_encoding():
    long_message = "is there a store near the central station that is open on friday " * 25  # ~400 tokens
    prefetcher, encoding = _long_prefetch(long_message)
    # e.g. /model/parse of the same text while the worker is on it: it encodes for itself (the old take waited
    # for the worker, in the event loop, and returned the customer's vector).
    assert prefetcher.take("original", "query", long_message) is None
    encoding.result(timeout=30)
    taken = prefetcher.take("original", "query", long_message)  # the customer's parse, once it is ready
    assert taken is not None and np.allclose(taken, encoding.result())


def _prefetcher() -> Prefetcher:
    return sentence_encoder._PREFETCHER


async def _loop_turns_while_pending(future: Future[Any], pause: float = 0.0) -> int:
    """How many times the event loop came back to this task until ``future`` was done."""
    turns = 0
    while not future.done():
        turns += 1
        await asyncio.sleep(pause)
    return turns


async def test_waiting_for_a_prefetch_leaves_the_event_loop_free():
    long_message = "my order has not arrived yet and I would like to know where it is " * 25  # ~500 tokens
    prefetcher, encoding = _long_prefetch(long_message)
    _, ticks = await asyncio.gather(until_encoded(encoding), _loop_turns_while_pending(encoding))
    assert encoding.done() and ticks > 10  # other work ran while the vector was computed
    assert prefetcher.take("original", "query", long_message) is not None
    await until_encoded(None)  # nothing prefetched: returns at once


async def test_customers_sending_the_same_text_at_once_each_get_the_prefetched_vector():
    prefetcher = Prefetcher()
    prefetcher.serve("original", "query", 1)
    encodings = [prefetcher.submit("thanks a lot") for _ in range(3)]
    for encoding in encodings:
        await until_encoded(encoding)
    taken = [prefetcher.take("original", "query", "thanks a lot") for _ in range(3)]
    assert all(vector is not None for vector in taken)  # none of the three pipelines encodes it again
    assert prefetcher.take("original", "query", "thanks a lot") is None
    assert len(prefetcher) == 0


async def test_a_failed_prefetch_is_waited_for_quietly_and_the_pipeline_encodes_itself(monkeypatch, caplog):
    prefetcher = Prefetcher()
    prefetcher.serve("broken-variant", "query", 1)  # shared_encoder raises for it, on the worker
    encoding = prefetcher.submit("where is my order?")
    await until_encoded(encoding)
    assert encoding is not None and encoding.exception() is not None
    assert prefetcher.take("broken-variant", "query", "where is my order?") is None
    assert "never retrieved" not in caplog.text


def test_a_text_longer_than_the_pipeline_reads_is_not_prefetched():
    sentence_encoder._PREFETCHER.serve("original", "query", 1)
    assert prefetch("x" * (sentence_encoder.TEXT_LIMIT + 1)) is None
    assert prefetch("a short question") is not None


async def test_waiting_for_a_dropped_prefetch_does_not_raise():
    prefetcher = Prefetcher(limit=1)
    prefetcher.serve("original", "query", 1)
    long_text = "one " * 400  # ~400 tokens: holds the worker a while
    first = prefetcher.submit(long_text)
    until_sync(partial(_started, prefetcher, long_text), what="the worker started the long text")
    second = prefetcher.submit("two")  # queued behind it
    third = prefetcher.submit("three")  # over the limit: "two" is dropped before it started
    await until_encoded(second)
    await until_encoded(first)
    await until_encoded(third)
    assert second is not None and second.cancelled()  # "one" held the worker, so "two" had not started
    assert prefetcher.take("original", "query", "two") is None


def _started(prefetcher: Prefetcher, text: str) -> bool:
    futures = [future for key, future in prefetcher._pending.values() if key == ("original", "query", text)]
    return bool(futures) and (futures[0].running() or futures[0].done())


def _encoded(prefetcher: Prefetcher, text: str) -> bool:
    futures = [future for key, future in prefetcher._pending.values() if key == ("original", "query", text)]
    return bool(futures) and futures[0].done()


def test_the_encoders_idle_threads_sleep() -> None:
    script = "import bot.components.sentence_encoder, os; print(os.environ['GOMP_SPINCOUNT'])"
    env = {k: v for k, v in Settings().child_env().items() if k != "GOMP_SPINCOUNT"}
    plain = subprocess.run([sys.executable, "-c", script], env=env, cwd=PROJECT_ROOT, capture_output=True, text=True)
    assert plain.stdout.strip() == "0", plain.stderr[-2000:]


async def test_rasas_parse_awaits_the_messages_prefetched_vector_without_holding_up_the_loop(monkeypatch):
    encoding: Future[np.ndarray] = Future()
    threading.Timer(0.2, encoding.set_result, args=(np.zeros(3),)).start()
    ready_at_parse: List[bool] = []

    async def rasas_parse(self: object, message: UserMessage, tracker: object = None,
                          only_output_properties: bool = True) -> Dict[str, Any]:
        ready_at_parse.append(encoding.done())
        return {"text": message.text}

    monkeypatch.setattr(sentence_encoder, "_RASA_PARSE", rasas_parse)
    sentence_encoder.install()
    message = UserMessage("where is my order?")
    with awaited_by_parse(message.message_id, encoding):
        parsed, ticks = await asyncio.gather(MessageProcessor.parse_message(object(), message),
                                             _loop_turns_while_pending(encoding, pause=0.01))
    assert parsed == {"text": "where is my order?"} and ready_at_parse == [True]
    assert ticks >= 5  # the loop ran meanwhile
    assert message.message_id not in sentence_encoder._AWAITED

    other = UserMessage("hi")  # nothing registered (an API parse, a button payload): parsed at once
    assert await MessageProcessor.parse_message(object(), other) == {"text": "hi"}
    assert len(ready_at_parse) == 2


def _counted_passes(monkeypatch: pytest.MonkeyPatch) -> List[str]:
    """The texts the encoder reads for their word pieces from now on (to the end of the test)."""
    passes: List[str] = []
    real = OnnxE5.pieces

    def counting(self: OnnxE5, read: str, prefix: str = "query") -> Pieces:
        passes.append(read)
        return real(self, read, prefix)

    monkeypatch.setattr(OnnxE5, "pieces", counting)
    return passes


def test_a_turns_word_pieces_come_from_the_pass_that_encoded_the_message(monkeypatch: pytest.MonkeyPatch):
    text = "how many days does delivery to a moshav take?"
    expected = shared_encoder().token_states(text, skip_words={"how"})
    passes = _counted_passes(monkeypatch)
    SentenceEncoder({"cache_dir": False}, "e5").process([Message({TEXT: text})])
    got = message_token_states(text, skip_words={"how"})
    assert passes == []  # no second pass of the encoder for the FAQ selector's check
    assert got.shape == expected.shape and got.shape[0] >= 8 and np.allclose(got, expected, atol=1e-5)
    # A text no turn encoded is read when asked for.
    message_token_states("a text nobody sent")
    assert passes == ["a text nobody sent"]
    # Asked again (the FAQ selector, then the article check, of one message from the cache): no new pass.
    message_token_states("a text nobody sent", skip_words={"a"})
    assert passes == ["a text nobody sent"]


def test_a_training_reads_many_texts_pieces_at_once_and_gets_each_texts_own(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(sentence_encoder, "training_threads", lambda: 2)
    texts = ["where is my order?", "מתי אתם פתוחים?", "can I pay with a gift card", "hello שלום"]
    together = token_states(texts, None)
    encoder = shared_encoder()
    for text, states in zip(texts, together, strict=True):
        assert np.array_equal(states, encoder.token_states(encoder_input(text)).astype(np.float16).astype(np.float32))


def test_a_training_examples_pieces_are_read_from_the_cache_exactly_as_a_pass_gives_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    # `rasa test nlu` of the NLU gate: held-out examples whose vectors and pieces a training cached.
    texts = ["how long does delivery to a moshav take?", "אפשר לשלם בכרטיס מתנה?"]
    fresh = [shared_encoder().token_states(encoder_input(text), skip_words={"how"}) for text in texts]
    token_states(texts, tmp_path)
    monkeypatch.setattr(sentence_encoder, "_PIECES", type(sentence_encoder._PIECES)())  # no turn encoded them
    passes = _counted_passes(monkeypatch)
    for text, expected in zip(texts, fresh, strict=True):
        assert np.array_equal(message_token_states(text, skip_words={"how"}, cache_dir=tmp_path), expected)
    assert passes == []
    message_token_states("a question no training had", cache_dir=tmp_path)
    assert passes == ["a question no training had"]
