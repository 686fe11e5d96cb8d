"""What the handoff service tells customers, in Hebrew and English (``texts.yml``)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any, Dict

import yaml

__all__ = ["TEXTS_PATH", "render"]

TEXTS_PATH = Path(__file__).resolve().parent / "texts.yml"


@lru_cache(maxsize=1)
def _texts() -> Dict[str, Dict[str, str]]:
    data = yaml.safe_load(TEXTS_PATH.read_text(encoding="utf-8"))
    return {name: dict(langs) for name, langs in data["texts"].items()}


def render(name: str, language: str, **values: Any) -> str:
    """The text ``name`` in ``language`` (English when unknown), with ``{values}`` filled in.

    Raises:
        KeyError: No such text.
    """
    variants = _texts()[name]
    template = variants.get(language) or variants["en"]
    return template.format(**values)
