"""``too-few-examples``, ``unknown-intent``, ``faq-without-answer`` and ``nlu-language-folder`` on a broken project."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.writers_project import (
    HE_CONDITION,
    ORDER_HE,
    block,
    exit_status,
    findings,
    line_of,
    numbered,
    only,
    replace,
)
from writers.checks.base import MIN_EXAMPLES, MIN_RETRIEVAL_EXAMPLES
from writers.content_check import main


def test_too_few_examples_in_one_language(project: Path):
    he_core = project / "data/nlu/he/core.yml"
    replace(he_core, block("order_status", ORDER_HE), block("order_status", numbered("איפה ההזמנה שלי מספר", 3)))
    finding = only(project, "too-few-examples")
    assert (finding.severity, finding.path) == ("error", "data/nlu/he/core.yml")
    assert finding.line == line_of(he_core, "- intent: order_status")
    assert "`order_status` has 3 Hebrew examples" in finding.message
    assert f"add at least {MIN_EXAMPLES - 3} more to data/nlu/he/core.yml under `- intent: order_status`" \
        in finding.message
    assert exit_status(project) == 1


def test_an_intent_with_examples_in_one_language_only(project: Path):
    he_core = project / "data/nlu/he/core.yml"
    replace(he_core, block("greet", numbered("שלום לכם", MIN_EXAMPLES)) + "\n", "")
    finding = only(project, "too-few-examples")
    assert finding.path == "data/nlu/en/core.yml"
    assert finding.line == line_of(project / "data/nlu/en/core.yml", "- intent: greet")
    assert "`greet` has English examples but no Hebrew ones" in finding.message
    assert f"add at least {MIN_EXAMPLES} Hebrew examples to data/nlu/he/core.yml" in finding.message
    assert exit_status(project) == 1


def test_faq_questions_have_their_own_minimum(project: Path):
    en_faq = project / "data/nlu/en/faq.yml"
    replace(en_faq, "    - when are you open 10\n", "")
    finding = only(project, "too-few-examples")
    assert finding.path == "data/nlu/en/faq.yml"
    assert finding.line == line_of(en_faq, "- intent: faq/hours")
    assert f"`faq/hours` has {MIN_RETRIEVAL_EXAMPLES - 1} English examples; add at least 1 more" in finding.message
    # The threshold is an option.
    assert main(["--project", str(project), "--skip-rasa", "--min-faq-examples", "9"]) == 0


def test_an_answer_without_questions(project: Path):
    faq = project / "domain/faq.yml"
    replace(faq, "  utter_faq/returns:\n", "  utter_faq/opening:\n  - text: \"Open.\"\n  - text: \"פתוח.\"\n"
            + HE_CONDITION + "\n  utter_faq/returns:\n")
    found = findings(project, "too-few-examples")
    assert [(f.path, f.line) for f in found] == [("domain/faq.yml", line_of(faq, "utter_faq/opening:"))]
    assert "`utter_faq/opening` has no example questions" in found[0].message
    assert "under `- intent: faq/opening`" in found[0].message


def test_questions_without_an_answer(project: Path):
    for language, text in (("en", "is there parking"), ("he", "יש חניה")):
        path = project / f"data/nlu/{language}/faq.yml"
        path.write_text(path.read_text(encoding="utf-8") + "\n"
                        + block("faq/parking", numbered(text, MIN_RETRIEVAL_EXAMPLES)), encoding="utf-8")
    finding = only(project, "faq-without-answer")  # once per topic, at its first examples
    en_faq = project / "data/nlu/en/faq.yml"
    assert (finding.severity, finding.path, finding.line) == ("error", "data/nlu/en/faq.yml",
                                                              line_of(en_faq, "- intent: faq/parking"))
    assert "`utter_faq/parking`" in finding.message and "domain/faq.yml" in finding.message


def test_examples_of_an_intent_the_domain_lacks(project: Path):
    en_core = project / "data/nlu/en/core.yml"
    replace(en_core, "- intent: greet\n", "- intent: greeet\n")
    finding = only(project, "unknown-intent")
    assert (finding.severity, finding.path, finding.line) == ("error", "data/nlu/en/core.yml",
                                                              line_of(en_core, "- intent: greeet"))
    assert "add `- greeet` under `intents:` in domain/core.yml" in finding.message


def test_examples_outside_a_language_folder(project: Path):
    (project / "data/nlu/en/faq.yml").rename(project / "data/nlu/faq.yml")
    moved = project / "data/nlu/faq.yml"
    found = findings(project, "nlu-language-folder")
    assert [(f.severity, f.path, f.line) for f in found] == [
        ("warning", "data/nlu/faq.yml", line_of(moved, "- intent: faq/hours")),
        ("warning", "data/nlu/faq.yml", line_of(moved, "- intent: faq/returns")),
    ]
    assert "`faq/hours` are not in a language folder" in found[0].message
    assert "move them to data/nlu/en/faq.yml or data/nlu/he/faq.yml" in found[0].message
