"""The NLU gate's draws in several child processes: their caches, how many, and a failure in one."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any, List, Mapping, Optional, Sequence

import pytest

from core.settings import Settings
from writers import nlu_gate
from writers.nlu_gate import GATE_PROCESSES, SPLIT_SEEDS, _gate_env, _run_lanes, gate_processes
from writers.rasa_batch import BatchResult, Started


def test_each_gate_process_trains_on_its_own_cache_beside_the_settings_one(tmp_path: Path) -> None:
    """Rasa's cache evicts as it writes: two processes on one cache could delete what the other reads."""
    settings = Settings().replace(rasa_cache_dir=tmp_path / "cache")
    caches = [Path(_gate_env(settings, lane)["RASA_CACHE_DIRECTORY"]) for lane in range(GATE_PROCESSES)]
    assert caches == [tmp_path / "gate-cache", tmp_path / "gate-cache-2"][:GATE_PROCESSES]


@pytest.mark.parametrize(("cores", "load", "processes"), [(2, 0.2, 2), (2, 1.2, 1), (8, 5.0, 2), (1, 0.0, 1)])
def test_the_draws_run_side_by_side_only_when_a_core_is_free(monkeypatch: pytest.MonkeyPatch, cores: int,
                                                             load: float, processes: int) -> None:
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)))
    monkeypatch.setattr(os, "getloadavg", lambda: (load, load, load))
    assert gate_processes(len(SPLIT_SEEDS)) == processes
    assert gate_processes(1) == 1


def test_a_failing_draw_stops_the_other_and_its_reason_is_reported(monkeypatch: pytest.MonkeyPatch,
                                                                    tmp_path: Path) -> None:
    other_started = threading.Event()
    children: List[subprocess.Popen[str]] = []

    def run_rasa(commands: Sequence[Sequence[str]], cwd: Path, env: Mapping[str, str],
                 started: Optional[Started] = None, **_: Any) -> BatchResult:
        if env["RASA_CACHE_DIRECTORY"].endswith("gate-cache-2"):
            assert other_started.wait(30)
            return BatchResult(1, "the config names no pipeline\n", list(commands[0]))
        child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], text=True)
        children.append(child)
        assert started is not None
        started(child)
        other_started.set()
        return BatchResult(child.wait(), "", [])

    monkeypatch.setattr(nlu_gate, "run_rasa", run_rasa)
    seen: List[subprocess.Popen[str]] = []
    settings = Settings().replace(rasa_cache_dir=tmp_path / "cache")
    with pytest.raises(RuntimeError, match="rasa train nlu failed:\nthe config names no pipeline"):
        _run_lanes([[["train", "nlu"]], [["train", "nlu"]]], tmp_path, settings, seen.append)
    assert seen == children  # the caller (make ship) was told of the child too
    assert children[0].poll() is not None and children[0].returncode != 0  # stopped, not left to run its course
