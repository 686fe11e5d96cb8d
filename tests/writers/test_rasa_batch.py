"""Several Rasa commands in one process: run in order, timed, and the chain stops at the first failure."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import List

import pytest

from core.settings import Settings
from tests.helpers.writers_project import make_project
from writers.rasa_batch import MARKER, ChildProcesses, read_each_text_once, run_rasa


def _validate(root: Path) -> list[str]:
    return ["data", "validate", "--domain", "domain", "--data", "data", "--config", str(root / "config.yml")]


def test_commands_run_one_after_the_other_in_one_process(tmp_path: Path):
    root = make_project(tmp_path / "project")
    children: list[subprocess.Popen[str]] = []
    result = run_rasa([_validate(root), _validate(root)], root, Settings.from_env().child_env(), children.append)
    assert result.returncode == 0, result.output[-3000:]
    assert len(children) == 1
    assert result.output.count(MARKER) == 2
    assert result.output.count("Validating intents") == 2
    assert set(result.seconds) == {"data validate"} and result.seconds["data validate"] > 0
    assert result.failed == []
    assert not result.timed_out


def test_the_chain_stops_at_the_first_failure_and_names_it(tmp_path: Path):
    root = make_project(tmp_path / "project")
    broken = tmp_path / "broken-config.yml"
    broken.write_text("pipeline: [\n", encoding="utf-8")
    failing = ["train", "--domain", "domain", "--data", "data", "--config", str(broken),
               "--out", str(tmp_path / "models")]
    result = run_rasa([failing, _validate(root)], root, Settings.from_env().child_env())
    assert result.returncode != 0
    assert result.failed == failing
    assert result.output.count(MARKER) == 1
    assert "broken-config.yml" in result.output
    assert not list((tmp_path / "models").glob("*.tar.gz"))
    assert not result.timed_out


def test_a_chain_that_runs_over_its_time_is_stopped_and_says_so(tmp_path: Path):
    root = make_project(tmp_path / "project")
    children: list[subprocess.Popen[str]] = []
    result = run_rasa([_validate(root)], root, Settings.from_env().child_env(), children.append, timeout=0.5)
    assert result.timed_out and result.returncode != 0  # importing Rasa alone takes seconds
    assert children[0].poll() is not None
    assert MARKER not in result.output


def test_a_step_that_starts_after_the_stop_is_stopped_as_it_starts() -> None:
    told: List[subprocess.Popen[str]] = []
    children = ChildProcesses(then=told.append)
    running = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], text=True)
    children.started(running)
    children.stop()
    late = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], text=True)
    children.started(late)
    assert children.stopped and told == [running, late]
    assert running.wait(30) != 0 and late.wait(30) != 0  # terminated, not left to sleep their two minutes


def test_each_text_is_parsed_and_checked_once_and_a_broken_one_fails_every_time(monkeypatch: pytest.MonkeyPatch):
    import rasa.shared.utils.io as rasa_io
    import rasa.shared.utils.validation as rasa_validation
    from rasa.shared.exceptions import YamlException

    parses: List[str] = []
    read = rasa_io.read_yaml

    def counted(content: str, reader_type: object = "safe") -> object:
        parses.append(content)
        return read(content, reader_type)

    monkeypatch.setattr(rasa_io, "read_yaml", counted)  # restored after the test, with Rasa's own
    monkeypatch.setattr(rasa_validation, "validate_yaml_schema", rasa_validation.validate_yaml_schema)
    read_each_text_once()
    nlu = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n'
    first = rasa_io.read_yaml(nlu)
    first["nlu"].append("changed by its reader")
    assert rasa_io.read_yaml(nlu) == read(nlu) != first  # each reader gets its own copy of the one parse
    assert parses.count(nlu) == 1
    rasa_validation.validate_yaml_schema(nlu, "shared/nlu/training_data/schemas/nlu.yml")
    checked = len(parses)
    assert checked > 1  # the schema check parsed the text (and the schema) itself
    rasa_validation.validate_yaml_schema(nlu, "shared/nlu/training_data/schemas/nlu.yml")
    assert len(parses) == checked  # it passed: not checked again
    broken = 'version: "3.1"\nnlu:\n- intent: greet\n  examples: 12\n'
    for _ in range(2):
        with pytest.raises(YamlException):
            rasa_validation.validate_yaml_schema(broken, "shared/nlu/training_data/schemas/nlu.yml")
