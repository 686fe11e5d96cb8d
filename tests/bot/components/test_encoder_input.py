"""The sentence encoder reads e-mail addresses and long numbers as stand-ins (bot/components/encoder_input.py)."""

from __future__ import annotations

from pathlib import Path
from typing import Tuple

import numpy as np
import pytest
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message

from bot.components import sentence_encoder
from bot.components.e5_onnx import Pieces
from bot.components.encoder_input import (
    EMAIL_STAND_IN,
    NUMBER_STAND_IN,
    PHONE_STAND_IN,
    RememberedVectors,
    encoder_input,
)
from bot.components.sentence_encoder import Prefetcher, SentenceEncoder, SharedEncoder
from tests.bot.components.pipeline import sentence_vector


@pytest.mark.parametrize(("typed", "read"), [
    ("noa.ohayon2@example.net", EMAIL_STAND_IN),
    ("my mail is Dana_K+shop@mail.co.il.", f"my mail is {EMAIL_STAND_IN}."),
    ("106833", NUMBER_STAND_IN),
    ("הזמנה מס' 106833 איפה היא?", f"הזמנה מס' {NUMBER_STAND_IN} איפה היא?"),
    ("call me on 052-555 1234 or +972 52 555 1234", f"call me on {PHONE_STAND_IN} or {PHONE_STAND_IN}"),
    ("order #230417 for dana@x.io", f"order #{NUMBER_STAND_IN} for {EMAIL_STAND_IN}"),
    ("order 106833 2 items", f"order {NUMBER_STAND_IN} 2 items"),
    ("106833 0521234567", f"{NUMBER_STAND_IN} {PHONE_STAND_IN}"),
    ("my order is 106833.", f"my order is {NUMBER_STAND_IN}."),
])
def test_addresses_order_numbers_and_phones_read_as_one_stand_in(typed: str, read: str) -> None:
    assert encoder_input(typed) == read


@pytest.mark.parametrize("typed", [
    "is it 19.90 to return by courier?", "the pan is fine up to 250 degrees?", "2 years warranty on 3 items",
    "אחריות של 24 חודשים?", "hello @ everyone", "", "🙂🙂", "delivered on 2024-12-01?", "it cost 12345.67",
    "a sofa for ₪12,345", "1234 5678", "3 4 5 6 7 items",
])
def test_prices_quantities_and_short_numbers_are_read_as_typed(typed: str) -> None:
    assert encoder_input(typed) == typed


def test_two_customers_order_numbers_get_one_vector_encoded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sentence_encoder, "_REMEMBERED", RememberedVectors())
    encoded: list[list[str]] = []
    real = SharedEncoder.encode_with_pieces

    def counting(self: SharedEncoder, text: str, prefix: str) -> Tuple[np.ndarray, Pieces]:
        encoded.append([text])
        return real(self, text, prefix)

    monkeypatch.setattr(SharedEncoder, "encode_with_pieces", counting)
    encoder = SentenceEncoder({"cache_dir": False}, "e5")
    first, second = Message({TEXT: "106833"}), Message({TEXT: "230417"})
    encoder.process([first])
    encoder.process([second])
    assert encoded == [[NUMBER_STAND_IN]]
    assert np.array_equal(sentence_vector(first)[0], sentence_vector(second)[0])

    # The channel's prefetch of a third customer's number is ready at once, without the worker.
    prefetcher = Prefetcher()
    prefetcher.serve("original", "query", 1)
    future = prefetcher.submit("555123")
    assert future is not None and future.done()
    taken = prefetcher.take("original", "query", "555123")
    assert taken is not None and np.array_equal(taken, sentence_vector(first)[0])
    assert encoded == [[NUMBER_STAND_IN]]


def test_training_reads_the_stand_ins_as_a_turn_does(tmp_path: Path) -> None:
    encoder = SentenceEncoder({"cache_dir": str(tmp_path)}, "e5")
    typed, stand_in = encoder.embed(["my order is 106833, mail dana@example.org",
                                     f"my order is {NUMBER_STAND_IN}, mail {EMAIL_STAND_IN}"])
    assert np.array_equal(typed, stand_in)
    assert encoder.cache_misses == 1  # one text to encode

    message = Message({TEXT: "my order is 998877, mail yossi@walla.co.il"})
    SentenceEncoder({"cache_dir": False}, "e5").process([message])
    assert np.allclose(sentence_vector(message)[0], typed, atol=1e-5)


def test_the_remembered_vectors_keep_the_latest_few() -> None:
    remembered = RememberedVectors(limit=2)
    for number, text in enumerate(("a", "b", "c")):
        remembered.put(("original", "query", text), np.full(2, number, dtype=np.float32))
    assert len(remembered) == 2
    assert remembered.get(("original", "query", "a")) is None
    assert remembered.get(("original", "query", "c")) is not None
