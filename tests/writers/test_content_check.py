"""The content check (bot/content_check.py): each kind of finding on a small broken project."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path
from typing import List

import pytest

from core.settings import PROJECT_ROOT
from writers.content_check import (
    KNOWN_RASA_WARNING,
    MIN_EXAMPLES,
    MIN_RETRIEVAL_EXAMPLES,
    Finding,
    Project,
    _rasa_messages,
    main,
    normalize_example,
    run_checks,
)

HE_CONDITION = """\
    condition:
    - type: slot
      name: language
      value: he
"""


def _write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def _block(intent: str, examples: List[str]) -> str:
    return f"- intent: {intent}\n  examples: |\n" + "".join(f"    - {e}\n" for e in examples)


def _nlu(*blocks: str) -> str:
    return 'version: "3.1"\nnlu:\n' + "\n".join(blocks)


def _examples(prefix: str, count: int) -> List[str]:
    return [f"{prefix} {n}" for n in range(1, count + 1)]


def _article(title: str, tags: str, url: str, body: str) -> str:
    return f"---\ntitle: {title}\ntags: {tags}\nurl: {url}\n---\n{body}\n"


def make_project(root: Path) -> Path:
    """Writes a small valid bilingual project (passes `rasa data validate` and every check)."""
    _write(root, "config.yml", """\
        recipe: default.v1
        assistant_id: fixture
        language: en
        pipeline: []
        policies: []
        """)
    _write(root, "domain/core.yml", 'version: "3.1"\n' + """\
intents:
- greet
- order_status
- faq

entities:
- order_id

slots:
  language:
    type: categorical
    values: [he, en]
    influence_conversation: false
    mappings:
    - type: custom
  order_id:
    type: text
    influence_conversation: false
    mappings:
    - type: from_entity
      entity: order_id

responses:
  utter_greet:
  - text: "Hello! How can I help?"
    buttons:
    - title: "Where's my order?"
      payload: /order_status
  - text: "שלום! איך אפשר לעזור?"
""" + HE_CONDITION + """\
    buttons:
    - title: "איפה ההזמנה שלי?"
      payload: /order_status

  utter_order_status:
  - text: "Order {order_id} is on its way."
  - text: "הזמנה {order_id} בדרך אליך."
""" + HE_CONDITION)
    _write(root, "domain/faq.yml", 'version: "3.1"\nresponses:\n' + """\
  utter_faq/hours:
  - text: "We are open Sunday to Thursday, 9 to 5."
  - text: "אנחנו פתוחים בימים ראשון עד חמישי, 9 עד 5."
""" + HE_CONDITION + """\

  utter_faq/returns:
  - text: "You can return items within 30 days."
  - text: "אפשר להחזיר מוצרים תוך 30 יום."
""" + HE_CONDITION)
    order_en = ["where is order [123456](order_id)", *_examples("where is my order number", MIN_EXAMPLES - 1)]
    order_he = ["איפה הזמנה [123456](order_id)", *_examples("איפה ההזמנה שלי מספר", MIN_EXAMPLES - 1)]
    _write(root, "data/nlu/en/core.yml", _nlu(
        _block("greet", _examples("hello there", MIN_EXAMPLES)), _block("order_status", order_en)))
    _write(root, "data/nlu/he/core.yml", _nlu(
        _block("greet", _examples("שלום לכם", MIN_EXAMPLES)), _block("order_status", order_he)))
    _write(root, "data/nlu/en/faq.yml", _nlu(
        _block("faq/hours", _examples("when are you open", MIN_RETRIEVAL_EXAMPLES)),
        _block("faq/returns", _examples("can I return it", MIN_RETRIEVAL_EXAMPLES))))
    _write(root, "data/nlu/he/faq.yml", _nlu(
        _block("faq/hours", _examples("מתי אתם פתוחים", MIN_RETRIEVAL_EXAMPLES)),
        _block("faq/returns", _examples("אפשר להחזיר", MIN_RETRIEVAL_EXAMPLES))))
    _write(root, "data/rules/basics.yml", """\
        version: "3.1"
        rules:
        - rule: greet
          steps:
          - intent: greet
          - action: utter_greet

        - rule: faq
          steps:
          - intent: faq
          - action: utter_faq
        """)
    _write(root, "data/stories/orders.yml", """\
        version: "3.1"
        stories:
        - story: order status
          steps:
          - intent: order_status
            entities:
            - order_id: "123456"
          - slot_was_set:
            - order_id: "123456"
          - action: utter_order_status
        """)
    _write(root, "data/messages/actions.yml", """\
        messages:
          not_found:
            en: "I couldn't find order {order_id}."
            he: "לא מצאתי את הזמנה {order_id}."
          offer_human:
            en:
              text: "Shall I connect you with a person?"
              buttons:
              - {title: "Yes", payload: "/affirm"}
            he:
              text: "להעביר אותך לנציג?"
              buttons:
              - {title: "כן", payload: "/affirm"}
        """)
    _write(root, "handoff/canned.yml", """\
        replies:
          - shortcut: hi
            title: Greeting
            he: "שלום, כאן {agent} משירות הלקוחות."
            en: "Hi, this is {agent} from customer service."
        """)
    _write(root, "data/kb/en/gift-wrapping.md", _article(
        "Gift wrapping", "[gift, wrapping]", "https://shop.example.com/help/gift-wrapping",
        "Add gift wrapping at checkout for 15 shekels per item."))
    _write(root, "data/kb/he/gift-wrapping.md", _article(
        "עטיפת מתנה", "[מתנה, עטיפה]", "https://shop.example.com/he/help/gift-wrapping",
        "אפשר להוסיף עטיפת מתנה בקופה ב-15 ש״ח לפריט."))
    return root


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "bot")


def line_of(path: Path, text: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing ``text``."""
    hits = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if text in line]
    assert len(hits) >= occurrence, f"{text!r} not in {path}"
    return hits[occurrence - 1]


def replace(path: Path, old: str, new: str, count: int = 1) -> None:
    content = path.read_text(encoding="utf-8")
    assert old in content, f"{old!r} not in {path}"
    path.write_text(content.replace(old, new, count), encoding="utf-8")


def findings(root: Path, kind: str) -> List[Finding]:
    return [f for f in run_checks(Project(root), rasa=False) if f.kind == kind]


def only(root: Path, kind: str) -> Finding:
    found = findings(root, kind)
    assert len(found) == 1, found
    return found[0]


def exit_status(root: Path) -> int:
    return main(["--project", str(root), "--skip-rasa"])


# -- the valid project --------------------------------------------------------------------
def test_the_valid_fixture_has_no_findings(project: Path, capsys: pytest.CaptureFixture[str]):
    assert run_checks(Project(project), rasa=False) == []
    assert exit_status(project) == 0
    assert capsys.readouterr().out.strip() == "content check: 0 errors, 0 warnings"


def test_the_real_project_passes_with_rasa(capsys: pytest.CaptureFixture[str]):
    status = main(["--project", str(PROJECT_ROOT)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert " 0 errors" in out.splitlines()[-1]


# -- too-few-examples ---------------------------------------------------------------------
def test_too_few_examples_in_one_language(project: Path):
    he_core = project / "data/nlu/he/core.yml"
    replace(he_core, _block("order_status", ["איפה הזמנה [123456](order_id)",
                                              *_examples("איפה ההזמנה שלי מספר", MIN_EXAMPLES - 1)]),
            _block("order_status", _examples("איפה ההזמנה שלי מספר", 3)))
    finding = only(project, "too-few-examples")
    assert (finding.severity, finding.path) == ("error", "data/nlu/he/core.yml")
    assert finding.line == line_of(he_core, "- intent: order_status")
    assert "`order_status` has 3 Hebrew examples" in finding.message
    assert f"add at least {MIN_EXAMPLES - 3} more to data/nlu/he/core.yml under `- intent: order_status`" \
        in finding.message
    assert exit_status(project) == 1


def test_an_intent_with_examples_in_one_language_only(project: Path):
    he_core = project / "data/nlu/he/core.yml"
    replace(he_core, _block("greet", _examples("שלום לכם", MIN_EXAMPLES)) + "\n", "")
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
                        + _block("faq/parking", _examples(text, MIN_RETRIEVAL_EXAMPLES)), encoding="utf-8")
    finding = only(project, "faq-without-answer")  # once per topic, at its first examples
    en_faq = project / "data/nlu/en/faq.yml"
    assert (finding.severity, finding.path, finding.line) == ("error", "data/nlu/en/faq.yml",
                                                              line_of(en_faq, "- intent: faq/parking"))
    assert "`utter_faq/parking`" in finding.message and "domain/faq.yml" in finding.message


# -- missing-language-variation -----------------------------------------------------------
def test_a_response_without_its_hebrew_text(project: Path):
    core = project / "domain/core.yml"
    replace(core, '  - text: "הזמנה {order_id} בדרך אליך."\n' + HE_CONDITION, "")
    finding = only(project, "missing-language-variation")
    assert (finding.severity, finding.path) == ("error", "domain/core.yml")
    assert finding.line == line_of(core, "utter_order_status:")
    assert "`utter_order_status` has no Hebrew text" in finding.message
    assert "value: he" in finding.message
    assert exit_status(project) == 1


def test_a_response_without_its_english_text(project: Path):
    faq = project / "domain/faq.yml"
    replace(faq, '  - text: "You can return items within 30 days."\n', "")
    finding = only(project, "missing-language-variation")
    assert finding.line == line_of(faq, "utter_faq/returns:")
    assert "`utter_faq/returns` has no English text" in finding.message
    assert "no `condition:`" in finding.message


def test_a_hebrew_text_written_in_english_is_an_error(project: Path):
    core = project / "domain/core.yml"
    replace(core, '"הזמנה {order_id} בדרך אליך."', '"Order {order_id} is coming."')
    finding = only(project, "missing-language-variation")
    assert (finding.severity, finding.line) == ("error", line_of(core, "Order {order_id} is coming."))
    assert "Hebrew text of response `utter_order_status` has no Hebrew letters" in finding.message
    assert "write it in Hebrew" in finding.message


def test_hebrew_in_an_english_text_is_only_a_warning(project: Path):
    core = project / "domain/core.yml"
    replace(core, '"Order {order_id} is on its way."', '"Order {order_id} בדרך."')
    finding = only(project, "missing-language-variation")
    assert (finding.severity, finding.line) == ("warning", line_of(core, "Order {order_id} בדרך."))
    assert "English text of response `utter_order_status` contains Hebrew" in finding.message
    assert exit_status(project) == 0


def test_an_action_message_without_its_hebrew_text(project: Path):
    messages = project / "data/messages/actions.yml"
    replace(messages, '    he: "לא מצאתי את הזמנה {order_id}."\n', "")
    finding = only(project, "missing-language-variation")
    assert (finding.path, finding.line) == ("data/messages/actions.yml", line_of(messages, "not_found:"))
    assert "message `not_found` has no Hebrew text" in finding.message
    assert '`he: "..."` under `not_found` in data/messages/actions.yml' in finding.message
    assert exit_status(project) == 1


def test_a_canned_reply_without_its_english_text(project: Path):
    canned = project / "handoff/canned.yml"
    replace(canned, '    en: "Hi, this is {agent} from customer service."\n', "")
    finding = only(project, "missing-language-variation")
    assert (finding.path, finding.line) == ("handoff/canned.yml", line_of(canned, "- shortcut: hi"))
    assert "canned reply `/hi` has no English text" in finding.message
    assert exit_status(project) == 1


def test_placeholders_and_buttons_that_differ_are_warnings(project: Path):
    replace(project / "data/messages/actions.yml", '"לא מצאתי את הזמנה {order_id}."', '"לא מצאתי את ההזמנה."')
    replace(project / "domain/core.yml", "      payload: /order_status", "      payload: /greet", count=1)
    found = [f for f in run_checks(Project(project), rasa=False)]
    assert {(f.kind, f.severity) for f in found} == {("placeholder-mismatch", "warning"), ("buttons-differ", "warning")}
    assert "message `not_found`" in next(f for f in found if f.kind == "placeholder-mismatch").message
    assert exit_status(project) == 0


# -- help-centre articles -----------------------------------------------------------------
def test_an_article_without_its_translation(project: Path):
    (project / "data/kb/he/gift-wrapping.md").unlink()
    finding = only(project, "kb-article-unpaired")
    assert (finding.severity, finding.path, finding.line) == ("error", "data/kb/en/gift-wrapping.md", 1)
    assert "`gift-wrapping` is in English only" in finding.message
    assert "add its Hebrew translation as data/kb/he/gift-wrapping.md" in finding.message
    assert exit_status(project) == 1


def test_front_matter_fields_are_checked(project: Path):
    article = project / "data/kb/he/gift-wrapping.md"
    replace(article, "url: https://shop.example.com/he/help/gift-wrapping", "url: shop.example.com/he")
    replace(article, "tags: [מתנה, עטיפה]", "tags: []")
    found = findings(project, "kb-front-matter")
    assert [(f.path, f.line) for f in found] == [("data/kb/he/gift-wrapping.md", 3), ("data/kb/he/gift-wrapping.md", 4)]
    assert "`gift-wrapping`" in found[0].message and "`tags:` must be a non-empty list" in found[0].message
    assert "`url:` must be the article's web address, starting with https://" in found[1].message
    assert exit_status(project) == 1


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        ("Just text, no front matter.\n", 1, "no front matter"),
        ("---\ntitle: x\ntags: [a]\nurl: https://a.example/x\nbody without an end\n", 1, "not closed"),
        ("---\ntitle: x\ntags: [a\nurl: https://a.example/x\n---\nText.\n", 4, "not valid YAML"),
        ("---\ntitle: Gift wrapping\ntags: [gift]\nurl: https://a.example/x\n---\n\n", 6, "no text after"),
        ("---\ntags: [gift]\nurl: https://a.example/x\n---\nText.\n", 1, "`title:` is missing"),
    ],
)
def test_broken_front_matter(project: Path, content: str, line: int, words: str):
    (project / "data/kb/en/gift-wrapping.md").write_text(content, encoding="utf-8")
    finding = only(project, "kb-front-matter")
    assert (finding.path, finding.line) == ("data/kb/en/gift-wrapping.md", line)
    assert words in finding.message


# -- duplicate-example --------------------------------------------------------------------
def test_one_sentence_under_two_intents(project: Path):
    en_core = project / "data/nlu/en/core.yml"
    replace(en_core, "    - where is my order number 5\n", "    - Hello   There 3?\n")
    finding = only(project, "duplicate-example")
    first, second = line_of(en_core, "- hello there 3"), line_of(en_core, "- Hello   There 3?")
    assert (finding.severity, finding.path, finding.line) == ("error", "data/nlu/en/core.yml", second)
    assert f"`greet` (data/nlu/en/core.yml:{first}) and `order_status` (here)" in finding.message
    assert "delete or reword" in finding.message
    assert exit_status(project) == 1


def test_one_sentence_twice_under_one_intent_is_a_warning(project: Path):
    he_core = project / "data/nlu/he/core.yml"
    replace(he_core, "    - איפה ההזמנה שלי מספר 7\n", "    - איפה הזמנה [123456](order_id)!\n")
    finding = only(project, "duplicate-example")
    assert (finding.severity, finding.line) == ("warning", line_of(he_core, "(order_id)!"))
    assert "twice under `order_status`" in finding.message
    assert f"data/nlu/he/core.yml:{line_of(he_core, '(order_id)')}" in finding.message


def test_normalize_example():
    assert normalize_example("  Where is  order [123456](order_id)?! ") == "where is order 123456"
    assert normalize_example('Mail [a@b.co]{"entity": "email"}.') == "mail a@b.co"
    assert normalize_example("שלום, מה נשמע?") == "שלום, מה נשמע"


# -- unknown-in-story / unknown-entity ----------------------------------------------------
def test_names_a_story_or_rule_uses_must_be_in_the_domain(project: Path):
    rules = project / "data/rules/basics.yml"
    rules.write_text(rules.read_text(encoding="utf-8") + textwrap.indent(textwrap.dedent("""\

        - rule: broken
          condition:
          - active_loop: order_form
          steps:
          - intent: gret
          - action: utter_nope
          - action: action_nope
          - slot_was_set:
            - order_idd: "1"
          - action: action_listen
        """), ""), encoding="utf-8")
    found = findings(project, "unknown-in-story")
    assert [(f.path, f.line) for f in found] == [
        ("data/rules/basics.yml", line_of(rules, "active_loop: order_form")),
        ("data/rules/basics.yml", line_of(rules, "intent: gret")),
        ("data/rules/basics.yml", line_of(rules, "action: utter_nope")),
        ("data/rules/basics.yml", line_of(rules, "action: action_nope")),
        ("data/rules/basics.yml", line_of(rules, "order_idd")),
    ]
    form, intent, response, action, slot = (f.message for f in found)
    assert "rule `broken` uses the form (`active_loop:`) `order_form`" in form
    assert "the intent `gret`, which is not in the domain" in intent and "`intents:` in domain/core.yml" in intent
    assert "the response `utter_nope`" in response and "`responses:` in domain/core.yml" in response
    assert "the action `action_nope`" in action and "`actions:`" in action
    assert "the slot `order_idd`" in slot and "`slots:`" in slot
    assert exit_status(project) == 1


def test_entities_marked_in_examples_must_be_in_the_domain(project: Path):
    en_core = project / "data/nlu/en/core.yml"
    replace(en_core, "    - where is my order number 3\n", "    - where is order [654321](ordr_id) now\n")
    finding = only(project, "unknown-entity")
    assert (finding.severity, finding.path, finding.line) == ("error", "data/nlu/en/core.yml",
                                                              line_of(en_core, "(ordr_id)"))
    assert "the entity `ordr_id`, which is not in the domain" in finding.message
    assert "`order_id`" in finding.message
    assert exit_status(project) == 1


# -- other checks ---------------------------------------------------------------------------
def test_a_yaml_error_is_a_finding_with_its_line(project: Path):
    core = project / "domain/core.yml"
    replace(core, "- order_status\n", "- order_status: [\n")
    finding = only(project, "yaml")
    assert (finding.severity, finding.path) == ("error", "domain/core.yml")
    assert finding.line in (line_of(core, "- order_status: ["), line_of(core, "- faq"))
    assert "not valid YAML" in finding.message
    # Without the domain everything would look undefined: only the broken file is reported.
    assert [f.kind for f in run_checks(Project(project), rasa=False)] == ["yaml"]
    assert exit_status(project) == 1


def test_a_yaml_error_in_the_data_is_reported_with_the_other_findings(project: Path):
    rules = project / "data/rules/basics.yml"
    replace(rules, "  - action: utter_greet\n", "  - action: utter_greet\n   - oops: [\n")
    (project / "data/kb/he/gift-wrapping.md").unlink()
    found = run_checks(Project(project), rasa=False)
    assert {"yaml", "kb-article-unpaired"} <= {f.kind for f in found}
    yaml_error = next(f for f in found if f.kind == "yaml")
    assert (yaml_error.path, yaml_error.line) == ("data/rules/basics.yml", line_of(rules, "- oops: ["))


def test_canned_shortcuts_must_be_unique(project: Path):
    canned = project / "handoff/canned.yml"
    canned.write_text(canned.read_text(encoding="utf-8") + textwrap.indent(textwrap.dedent("""\
        - shortcut: hi
          title: Greeting again
          he: "שלום שוב"
          en: "Hello again"
        """), "  "), encoding="utf-8")
    finding = only(project, "canned-reply")
    assert (finding.path, finding.line) == ("handoff/canned.yml", line_of(canned, "- shortcut: hi", 2))
    assert "`/hi` is also used on line 2" in finding.message


def test_an_empty_text_is_an_error(project: Path):
    messages = project / "data/messages/actions.yml"
    replace(messages, '"להעביר אותך לנציג?"', '""')
    finding = only(project, "empty-text")
    assert (finding.path, finding.line) == ("data/messages/actions.yml", line_of(messages, 'text: ""'))
    assert "Hebrew text of message `offer_human` is empty" in finding.message
    assert exit_status(project) == 1


def test_domain_actions_need_a_class_in_actions(project: Path):
    replace(project / "domain/core.yml", "responses:\n", "actions:\n- action_check\n- action_missing\n\nresponses:\n")
    _write(project, "actions/check.py", """\
        class ActionCheck(Action):
            def name(self) -> str:
                return "action_check"
        """)
    finding = only(project, "action-not-implemented")
    assert finding.severity == "warning" and "`action_missing`" in finding.message


def test_json_output(project: Path, capsys: pytest.CaptureFixture[str]):
    (project / "data/kb/he/gift-wrapping.md").unlink()
    assert main(["--project", str(project), "--skip-rasa", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data == [{"kind": "kb-article-unpaired", "severity": "error", "path": "data/kb/en/gift-wrapping.md",
                     "line": 1, "message": data[0]["message"]}]


def test_human_output_is_sorted_by_file_and_line(project: Path, capsys: pytest.CaptureFixture[str]):
    (project / "data/kb/he/gift-wrapping.md").unlink()
    replace(project / "domain/core.yml", '"הזמנה {order_id} בדרך אליך."', '"Order {order_id} is coming."')
    assert exit_status(project) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("data/kb/en/gift-wrapping.md:1: error [kb-article-unpaired] ")
    assert lines[1].startswith("domain/core.yml:")
    assert lines[-1] == "content check: 2 errors, 0 warnings"


# -- Rasa's own validation -----------------------------------------------------------------
def test_rasa_validate_errors_are_reported(project: Path, capsys: pytest.CaptureFixture[str]):
    stories = project / "data/stories/orders.yml"
    replace(stories, "  - intent: order_status\n", "  - intent: order_statuss\n")
    assert main(["--project", str(project)]) == 1
    out = capsys.readouterr().out
    rasa = [line for line in out.splitlines() if "[rasa]" in line]
    assert rasa, out
    assert any(line.startswith(f"data/stories/orders.yml:{line_of(stories, 'order_statuss')}: error [rasa]")
               and "order_statuss" in line for line in rasa), out
    assert KNOWN_RASA_WARNING not in out


def test_rasa_output_parsing_drops_the_known_warning():
    output = (
        "\x1b[93m/x/rasa/shared/utils/io.py:100: UserWarning: " + KNOWN_RASA_WARNING + "\n"
        "  More info at https://rasa.com/docs/rasa/domain\n"
        "\x1b[0m\x1b[93m/x/rasa/shared/utils/io.py:100: UserWarning: Issue found in 'data/rules/a.yml': \n"
        "Found intent 'gret' in stories which is not part of the domain.\n"
        "  More info at https://rasa.com/docs/rasa/stories\n"
        "\x1b[0m2026-01-01 10:00:00 INFO     rasa.validator  - Validating intents...\n"
        "2026-01-01 10:00:00 ERROR    rasa.validator  - Story structure conflict after intent 'x':\n"
        "  utter_a predicted in 'one'\n"
        "\x1b[91mProject validation completed with errors.\x1b[0m\n"
    )
    assert _rasa_messages(output) == [
        "Issue found in 'data/rules/a.yml': Found intent 'gret' in stories which is not part of the domain.",
        "Story structure conflict after intent 'x': utter_a predicted in 'one'",
    ]


def test_a_hebrew_article_must_be_in_hebrew(project: Path):
    (project / "data/kb/he/gift-wrapping.md").write_text(_article(
        "Gift wrapping", "[gift]", "https://shop.example.com/he/help/gift-wrapping", "Wrapped for 15 shekels."),
        encoding="utf-8")
    finding = only(project, "missing-language-variation")
    assert (finding.severity, finding.path, finding.line) == ("error", "data/kb/he/gift-wrapping.md", 1)
    assert "`gift-wrapping` has no Hebrew text" in finding.message


def test_an_example_added_from_the_writers_page_is_seen_by_the_next_check(project: Path):
    from writers.examples import add_example

    he_core = project / "data/nlu/he/core.yml"
    replace(he_core, _block("order_status", ["איפה הזמנה [123456](order_id)",
                                              *_examples("איפה ההזמנה שלי מספר", MIN_EXAMPLES - 1)]),
            _block("order_status", ["איפה הזמנה [123456](order_id)",
                                    *_examples("איפה ההזמנה שלי מספר", MIN_EXAMPLES - 2)]))
    assert f"has {MIN_EXAMPLES - 1} Hebrew examples" in only(project, "too-few-examples").message
    add_example(project, "order_status", "he", "מה קורה עם ההזמנה ששלחתי אתמול")
    assert findings(project, "too-few-examples") == []
    assert exit_status(project) == 0
