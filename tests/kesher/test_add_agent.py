"""``python -m kesher add-agent`` on a temp copy of the agents file."""

from __future__ import annotations

import io
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from argon2 import PasswordHasher

from core.settings import Settings
from handoff.agents import load_agents
from kesher import add_agent as cli

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def agents_file(tmp_path: Path) -> Path:
    path = tmp_path / "agents.yml"
    shutil.copy(ROOT / "handoff" / "agents.yml", path)
    return path


def test_add_agent_keeps_comments_and_order(agents_file: Path, capsys):
    original = agents_file.read_text(encoding="utf-8")
    code = cli.add_agent_cli(
        ["noa", "--name", "Noa Ben-David", "--languages", "he,en", "--teams", "orders", "--topics", "orders,returns",
         "--capacity", "4", "--email", "noa@kesher.example", "--password-stdin", "--file", str(agents_file)],
        stdin=io.StringIO("a-long-secret\n"),
    )
    assert code == 0
    assert "added agent noa" in capsys.readouterr().out
    text = agents_file.read_text(encoding="utf-8")
    assert text.startswith(original.split("\n", 1)[0])  # the header comment is still first
    for line in original.splitlines():
        if line.lstrip().startswith("#"):
            assert line in text
    assert text.index("dana:") < text.index("omer:") < text.index("sarah:") < text.index("noa:")
    assert "a-long-secret" not in text
    assert "languages: [he, en]" in text.split("noa:")[1]

    directory = load_agents(agents_file)
    noa = directory.get("noa")
    assert noa is not None
    assert (noa.name, noa.languages, noa.teams, noa.topics, noa.capacity, noa.role, noa.email) == (
        "Noa Ben-David", ("he", "en"), ("orders",), ("orders", "returns"), 4, "agent", "noa@kesher.example")
    assert PasswordHasher().verify(noa.password_hash, "a-long-secret")
    dana, demo_dana = directory.get("dana"), load_agents(ROOT / "handoff" / "agents.yml").get("dana")
    assert dana is not None and demo_dana is not None
    assert dana.password_hash == demo_dana.password_hash


def test_update_changes_only_what_is_given(agents_file: Path, monkeypatch):
    answers = iter(["new-password-1", "new-password-1"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt="": next(answers))
    assert cli.add_agent_cli(["omer", "--capacity", "5", "--role", "supervisor", "--file", str(agents_file)]) == 0
    omer = load_agents(agents_file).get("omer")
    assert omer is not None
    assert (omer.name, omer.capacity, omer.role, omer.languages) == ("Omer Katz", 5, "supervisor", ("he",))
    assert PasswordHasher().verify(omer.password_hash, "new-password-1")
    text = agents_file.read_text(encoding="utf-8")
    assert text.count("omer:") == 1


def test_display_names_are_what_customers_call_the_agent_in_each_language(agents_file: Path):
    assert cli.add_agent_cli(
        ["noa", "--name", "Noa Ben-David", "--display-name", "he=נועה", "--password-stdin", "--file", str(agents_file)],
        stdin=io.StringIO("a-long-secret\n")) == 0
    directory = load_agents(agents_file)
    assert (directory.display_name("noa", "he"), directory.display_name("noa", "en")) == ("נועה", "Noa")
    # An update adds the other language and keeps the first.
    assert cli.add_agent_cli(["noa", "--display-name", "en=Noa B.", "--password-stdin", "--file", str(agents_file)],
                             stdin=io.StringIO("a-long-secret\n")) == 0
    directory = load_agents(agents_file)
    assert (directory.display_name("noa", "he"), directory.display_name("noa", "en")) == ("נועה", "Noa B.")


@pytest.mark.parametrize("argv, stdin, message", [
    (["newbie", "--name", "X", "--display-name", "fr=Jean"], "long-enough\n", "--display-name"),
    (["newbie", "--name", "X", "--display-name", "he="], "long-enough\n", "--display-name"),
    (["Bad Id", "--name", "X"], "long-enough\n", "ID must be"),
    (["newbie", "--name", "X", "--languages", "fr"], "long-enough\n", "--languages"),
    (["newbie", "--name", "X", "--capacity", "0"], "long-enough\n", "--capacity"),
    (["newbie", "--name", "X", "--teams", "nowhere"], "long-enough\n", "no such team"),
    (["newbie", "--name", "X", "--email", "not-mail"], "long-enough\n", "--email"),
    (["newbie"], "long-enough\n", "needs --name"),
    (["newbie", "--name", "X"], "short\n", "at least 8"),
])
def test_bad_arguments_exit_2_and_leave_the_file(agents_file: Path, capsys, argv, stdin, message):
    before = agents_file.read_bytes()
    code = cli.add_agent_cli([*argv, "--password-stdin", "--file", str(agents_file)], stdin=io.StringIO(stdin))
    assert code == 2
    assert message in capsys.readouterr().err
    assert agents_file.read_bytes() == before


def test_mismatched_passwords(agents_file: Path, monkeypatch, capsys):
    answers = iter(["first-password", "other-password"])
    monkeypatch.setattr(cli.getpass, "getpass", lambda prompt="": next(answers))
    assert cli.add_agent_cli(["newbie", "--name", "New Bie", "--file", str(agents_file)]) == 2
    assert "do not match" in capsys.readouterr().err


def test_module_entry_point_uses_the_agents_file_setting(agents_file: Path):
    result = subprocess.run(
        [sys.executable, "-m", "kesher", "add-agent", "lior", "--name", "Lior Mizrahi", "--languages", "he",
         "--password-stdin"],
        input="via-the-module\n", capture_output=True, text=True, cwd=ROOT, timeout=60,
        env=Settings(agents_file=agents_file).child_env(),
    )
    assert result.returncode == 0, result.stderr
    lior = load_agents(agents_file).get("lior")
    assert lior is not None and lior.languages == ("he",)
