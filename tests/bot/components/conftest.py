"""The trained featurizers the component tests share (one per test module, as each module trains its own)."""

from __future__ import annotations

import pytest

from tests.bot.components.pipeline import Pipeline


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory) -> Pipeline:
    """The tokenizer, word and character counts and the e5 encoder, trained on the tiny bilingual shop data."""
    return Pipeline(tmp_path_factory.mktemp("storage"), tmp_path_factory.mktemp("cache"))
