"""After a model swap the garbage collector skips what is alive, and the previous model is not kept."""

from __future__ import annotations

import gc
import weakref
from typing import Iterator

import pytest

from bot.model_swap import settle_heap


class _Model:
    """Stands for a loaded model: objects in reference cycles, as Rasa's graph holds them."""

    def __init__(self) -> None:
        self.myself = self


@pytest.fixture()
def unfrozen() -> Iterator[None]:
    yield
    gc.unfreeze()


def test_a_swap_freezes_the_live_heap_and_lets_the_previous_model_go(unfrozen: None) -> None:
    previous = _Model()
    gone = weakref.ref(previous)
    settle_heap()  # the previous swap: its model is frozen with everything else
    assert gc.get_freeze_count() > 0
    del previous  # the next swap replaced it; only its own cycle holds it now
    assert gone() is not None
    settle_heap()
    assert gone() is None  # collected, although it had been frozen
    assert gc.get_freeze_count() > 0
