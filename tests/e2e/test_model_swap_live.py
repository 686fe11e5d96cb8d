"""A model swap under steady traffic on the real stack: no turn is lost or answered differently.

The stack's ``rasa run`` pulls from its model server every 2 s and loads what it
pulls off its event loop (bot/model_swap.py). Customers keep chatting while a
copy of the served model under another id is published, so ``rasa run`` does
all the work of a swap and every answer must stay what it was.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List

import pytest

from core.processes import latest_model
from core.settings import Settings
from tests.helpers.stack import Customer
from tests.helpers.waiting import until_sync
from writers.model_server import publish, relabelled
from writers.ship import model_id, wait_until_live

pytestmark = pytest.mark.stack

MESSAGES = ["hello there", "how long does shipping take?", "שלום", "כמה זמן לוקח משלוח?"]


@dataclass
class SteadyCustomer:
    """Says the same messages over and over in one conversation, from a thread, and checks each answer."""

    settings: Settings
    first_answers: Dict[str, str] = field(default_factory=dict)
    failures: List[str] = field(default_factory=list)
    turns: int = 0
    stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        customer = Customer(self.settings)
        while not self.stop.is_set():
            for text in MESSAGES:
                try:
                    answer = customer.say(text).text
                except (AssertionError, OSError) as exc:
                    self.failures.append(f"{text!r}: {exc!r}")
                    continue
                self.turns += 1
                expected = self.first_answers.setdefault(text, answer)
                if not answer or answer != expected:
                    self.failures.append(f"{text!r} answered {answer!r}, before {expected!r}")


def test_a_swap_under_steady_traffic_loses_no_turn(stack, stack_settings, tmp_path: Path):
    original = latest_model(stack_settings.model_dir)
    assert original is not None
    copy = relabelled(original, tmp_path, "swap-test")
    customers = [SteadyCustomer(stack_settings) for _ in range(4)]
    threads = [threading.Thread(target=c.run, daemon=True) for c in customers]
    for thread in threads:
        thread.start()
    try:
        until_sync(lambda: all(c.turns >= len(MESSAGES) for c in customers), what="every customer chatting",
                   timeout=120, every=0.1)
        publish(copy, stack_settings.published_dir)
        assert wait_until_live(stack_settings, model_id(copy), 120) is not None
        after_swap = [c.turns for c in customers]
        until_sync(lambda: all(c.turns >= t + 2 * len(MESSAGES) for c, t in zip(customers, after_swap, strict=True)),
                   what="every customer chatting on the new model", timeout=120, every=0.1)
    finally:
        for c in customers:
            c.stop.set()
        for thread in threads:
            thread.join(timeout=120)
    assert [c.failures for c in customers] == [[], [], [], []]

    # Put the served model back for the other tests.
    publish(original, stack_settings.published_dir)
    assert wait_until_live(stack_settings, model_id(original), 120) is not None
