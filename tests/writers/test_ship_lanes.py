"""`make ship`'s lanes: the new model joins the model folder only when every lane passed.

The lanes' Rasa work is stood in for here (their real runs are tests/e2e/test_writers_live.py); what is
tested is the ship's own bookkeeping of the model it trained.
"""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import pytest

from core.processes import latest_model
from core.settings import Settings
from writers.ship import Ship, ShipResult, StepFailed


class _Lanes(Ship):
    """A ship whose lanes write a model and pass or fail as told, without Rasa."""

    def __init__(self, model_dir: Path, failing: Optional[str]) -> None:
        super().__init__(Settings(), gate=True, wait_live_seconds=0, out=lambda line: None, model_dir=model_dir)
        self.failing = failing
        self.published: List[Path] = []

    def check_content(self, result: ShipResult) -> None:
        if self.failing == "check":
            raise StepFailed("check", "the content check found errors")

    def train_and_test(self, result: ShipResult) -> Path:
        assert self._staging is not None and self._staging.parent == self.model_dir
        model = self._staging / "20261201-000001-new.tar.gz"
        model.write_bytes(b"a trained model")
        # Half written, it is not the newest model of the folder.
        assert latest_model(self.model_dir) == self.model_dir / "20261130-000000-served.tar.gz"
        if self.failing == "test":
            raise StepFailed("test", "1 conversation test(s) failed")
        return model

    def run_gate(self, result: ShipResult) -> None:
        if self.failing == "gate":
            raise StepFailed("gate", "the NLU gate failed: macro-F1 (he) 0.880 < 0.900")

    def publish(self, model: Path) -> None:
        self.published.append(model)


@pytest.fixture()
def model_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "models"
    folder.mkdir()
    (folder / "20261130-000000-served.tar.gz").write_bytes(b"the model make up serves")
    return folder


@pytest.mark.parametrize("failing", ["check", "test", "gate"])
def test_a_model_that_failed_any_step_never_becomes_the_newest_one(model_dir: Path, failing: str) -> None:
    ship = _Lanes(model_dir, failing)
    result = ship.run()
    assert result.failed_step == failing and result.published is None and ship.published == []
    assert sorted(p.name for p in model_dir.iterdir()) == ["20261130-000000-served.tar.gz"]  # no staging left


def test_a_model_that_passed_every_step_is_moved_in_whole_then_published(model_dir: Path) -> None:
    ship = _Lanes(model_dir, None)
    result = ship.run()
    new = model_dir / "20261201-000001-new.tar.gz"
    assert result.failed_step == "" and result.published == new and ship.published == [new]
    assert latest_model(model_dir) == new and new.read_bytes() == b"a trained model"
    assert sorted(p.name for p in model_dir.iterdir()) == ["20261130-000000-served.tar.gz", new.name]
