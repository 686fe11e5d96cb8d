"""The project's text catalog, loaded once for the test session."""

from __future__ import annotations

from functools import lru_cache

from core.settings import Settings
from core.texts import TextCatalog


@lru_cache(maxsize=1)
def catalog() -> TextCatalog:
    """``data/texts`` as the product loads it."""
    return TextCatalog.load(Settings().texts_dir)
