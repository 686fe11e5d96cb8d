"""Adding a training example keeps the NLU file as the writer left it; concurrent additions lose nothing
and a failed write leaves the file whole."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Tuple

import pytest

from tests.helpers.writers_project import ORDER_HE, block, exit_status, findings, make_project, only, replace
from writers import examples as examples_module
from writers.checks.base import MIN_EXAMPLES
from writers.examples import ExampleError, add_example

HEBREW = """version: "3.1"
nlu:
# Greetings — keep them short.
- intent: greet
  examples: |
    - שלום
    - היי
    - בוקר טוב

# Questions about delivery prices
- intent: faq/shipping_cost
  examples: |
    - כמה עולה משלוח?
    - מה מחיר המשלוח
"""


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    (tmp_path / "data" / "nlu" / "he").mkdir(parents=True)
    (tmp_path / "data" / "nlu" / "en").mkdir(parents=True)
    (tmp_path / "data" / "nlu" / "he" / "core.yml").write_text(HEBREW, encoding="utf-8")
    (tmp_path / "data" / "nlu" / "en" / "core.yml").write_text(
        'version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - hi\n', encoding="utf-8")
    return tmp_path


def test_the_example_goes_under_its_intent_and_nothing_else_changes(project: Path) -> None:
    path, line = add_example(project, "faq/shipping_cost", "he", "  כמה עולה   משלוח לאילת? ")
    assert path == project / "data" / "nlu" / "he" / "core.yml"
    after = path.read_text(encoding="utf-8").splitlines()
    assert after[line - 1] == "    - כמה עולה משלוח לאילת?"
    assert after[: line - 1] + after[line:] == HEBREW.splitlines()  # comments, order and quoting kept


def test_the_main_file_wins_over_another_file_with_the_same_intent(project: Path) -> None:
    typed = project / "data" / "nlu" / "he" / "as_typed.yml"  # sorts before core.yml, like the real one
    typed.write_text('version: "3.1"\nnlu:\n- intent: greet\n  examples: |\n    - היי 👋\n', encoding="utf-8")
    path, _ = add_example(project, "greet", "he", "ערב טוב לכם")
    assert path == project / "data" / "nlu" / "he" / "core.yml"
    assert "ערב טוב לכם" not in typed.read_text(encoding="utf-8")


def test_an_intent_new_to_the_language_gets_its_own_block(project: Path) -> None:
    path, line = add_example(project, "out_of_scope", "en", "do you sell concert tickets?")
    text = path.read_text(encoding="utf-8")
    assert text.endswith("- intent: out_of_scope\n  examples: |\n    - do you sell concert tickets?\n")
    assert text.splitlines()[line - 1].endswith("do you sell concert tickets?")


@pytest.mark.parametrize(
    ("intent", "language", "text", "error"),
    [
        ("greet", "he", "שלום!", "already an example of greet"),
        ("faq/shipping_cost", "he", "היי", "already an example of greet"),
        ("greet", "fr", "bonjour", "language"),
        ("greet", "en", "   ", "empty"),
        ("greet", "en", "x" * 301, "at most 300"),
    ],
)
def test_refusals_say_why_and_leave_the_files_alone(project: Path, intent: str, language: str, text: str,
                                                    error: str) -> None:
    before = {p: p.read_text(encoding="utf-8") for p in (project / "data").rglob("*.yml")}
    with pytest.raises(ExampleError, match=error):
        add_example(project, intent, language, text)
    assert {p: p.read_text(encoding="utf-8") for p in before} == before


def test_an_faq_question_goes_to_the_languages_faq_file(tmp_path: Path) -> None:
    bot = make_project(tmp_path / "bot")
    path, line = add_example(bot, "faq/parking", "en", "is there parking near the store?")
    assert path == bot / "data" / "nlu" / "en" / "faq.yml"
    text = path.read_text(encoding="utf-8")
    assert text.endswith("- intent: faq/parking\n  examples: |\n    - is there parking near the store?\n")
    assert text.splitlines()[line - 1] == "    - is there parking near the store?"


def test_an_example_added_from_the_writers_page_is_seen_by_the_next_check(tmp_path: Path) -> None:
    bot = make_project(tmp_path / "bot")
    he_core = bot / "data/nlu/he/core.yml"
    replace(he_core, block("order_status", ORDER_HE), block("order_status", ORDER_HE[:-1]))
    assert f"has {MIN_EXAMPLES - 1} Hebrew examples" in only(bot, "too-few-examples").message
    path, _ = add_example(bot, "order_status", "he", "מה קורה עם ההזמנה ששלחתי אתמול")
    assert path == he_core
    assert findings(bot, "too-few-examples") == []
    assert exit_status(bot) == 0


def test_writers_adding_at_the_same_moment_lose_nothing(project: Path) -> None:
    wordings = [f"hello there number {n}" for n in range(8)]
    start = threading.Barrier(len(wordings))

    def add(text: str) -> Tuple[Path, int]:
        start.wait()
        return add_example(project, "greet", "en", text)

    with ThreadPoolExecutor(len(wordings)) as pool:
        results = list(pool.map(add, wordings))
    path = project / "data" / "nlu" / "en" / "core.yml"
    text = path.read_text(encoding="utf-8")
    assert all(f"    - {w}\n" in text for w in wordings), text
    assert {r[0] for r in results} == {path}
    assert sorted(leftover.name for leftover in path.parent.iterdir()) == ["core.yml"]  # no temporary files


def test_a_failed_write_leaves_the_file_as_it_was(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = project / "data" / "nlu" / "he" / "core.yml"
    before = path.read_text(encoding="utf-8")

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(examples_module.os, "fsync", broken_fsync)
    with pytest.raises(OSError, match="No space left"):
        add_example(project, "greet", "he", "ערב טוב")
    assert path.read_text(encoding="utf-8") == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["core.yml"]
