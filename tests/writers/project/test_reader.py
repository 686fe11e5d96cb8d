"""The project reader: each piece of a project with its file and line, on the small fixture and the real project."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.bidi import strip_controls
from core.settings import PROJECT_ROOT
from core.texts import TextError
from tests.helpers.writers_project import line_of, make_project, replace, write
from writers.project import Loc, Project


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "bot")


def test_the_domain_is_merged_with_where_each_name_is(project: Path):
    domain = Project(project).domain
    core, faq = project / "domain/core.yml", project / "domain/faq.yml"
    assert domain.files == ["domain/core.yml", "domain/faq.yml"]
    assert list(domain.intents) == ["greet", "order_status", "faq"]
    assert domain.intents["order_status"] == Loc("domain/core.yml", line_of(core, "- order_status"))
    assert domain.slots["order_id"] == Loc("domain/core.yml", line_of(core, "  order_id:"))
    assert domain.responses["utter_faq/hours"] == Loc("domain/faq.yml", line_of(faq, "utter_faq/hours:"))
    assert domain.texts("utter_order_status") == {"en": "Order {order_id} is on its way.",
                                                   "he": "הזמנה {order_id} בדרך אליך."}
    assert domain.retrieval_bases() == {"faq"}
    assert domain.file_for("intents") == "domain/core.yml"
    assert domain.file_for_response("utter_faq/new") == "domain/faq.yml"


def test_intent_blocks_know_their_language_from_the_folder(project: Path):
    reader = Project(project)
    he_core = project / "data/nlu/he/core.yml"
    block = next(b for b in reader.intent_blocks if b.intent == "order_status" and b.language == "he")
    assert (block.path, block.line) == ("data/nlu/he/core.yml", line_of(he_core, "- intent: order_status"))
    assert block.examples[0].text == "איפה הזמנה [123456](order_id)"
    assert block.examples[0].line == line_of(he_core, "איפה הזמנה [123456](order_id)")
    assert {b.language for b in reader.intent_blocks} == {"he", "en"}
    assert reader.nlu_file_for("faq/new", "he") == "data/nlu/he/faq.yml"
    assert reader.nlu_file_for("greet", "he", like="data/nlu/en/more/chat.yml") == "data/nlu/he/more/chat.yml"


def test_stories_and_rules_with_the_names_they_use(project: Path):
    reader = Project(project)
    assert [(b.kind, b.name, b.path) for b in reader.story_blocks] == [
        ("story", "order status", "data/stories/orders.yml"),
        ("rule", "greet", "data/rules/basics.yml"),
        ("rule", "faq", "data/rules/basics.yml"),
    ]
    stories = project / "data/stories/orders.yml"
    refs = [(r.what, r.name, r.loc.line) for r in reader.story_refs if r.block == "story"]
    assert refs == [
        ("intent", "order_status", line_of(stories, "- intent: order_status")),
        ("entity", "order_id", line_of(stories, '- order_id: "123456"')),
        ("slot", "order_id", line_of(stories, '- order_id: "123456"', 2)),
        ("action", "utter_order_status", line_of(stories, "- action: utter_order_status")),
    ]


def test_the_text_catalog_as_written_and_as_kesher_loads_it(project: Path):
    reader = Project(project)
    texts = project / "data/texts/actions.yml"
    entry = next(e for e in reader.text_entries if e.key == "offer_human")
    assert (entry.path, entry.line) == ("data/texts/actions.yml", line_of(texts, "offer_human:"))
    assert entry.value["he"].line_of("text") == line_of(texts, '"להעביר אותך לנציג?"')
    assert strip_controls(reader.catalog.text("not_found", "he", order_id="1")) == "לא מצאתי את הזמנה 1."
    replace(texts, '    en: "I couldn\'t find order {order_id}."\n', '    en: "I couldn\'t find order {order_id}.\n')
    with pytest.raises(TextError, match="not UTF-8 YAML"):
        _ = Project(project).catalog


def test_a_file_that_does_not_parse_is_left_out_and_reported(project: Path):
    rules = project / "data/rules/basics.yml"
    replace(rules, "  - action: utter_greet\n", "  - action: utter_greet\n   - oops: [\n")
    reader = Project(project)
    assert [b.path for b in reader.story_blocks] == ["data/stories/orders.yml"]
    assert [(p.path, p.line, p.kind) for p in reader.yaml_problems()] == [
        ("data/rules/basics.yml", line_of(rules, "- oops: ["), "syntax")]
    assert reader.unreadable_domain_files() == []


def test_a_one_file_domain(tmp_path: Path):
    write(tmp_path, "domain.yml", "intents:\n- greet\n")
    reader = Project(tmp_path)
    assert reader.domain_files() == [tmp_path.resolve() / "domain.yml"]
    assert reader.domain.intents == {"greet": Loc("domain.yml", 2)}


def test_the_real_project():
    reader = Project(PROJECT_ROOT)
    assert len(reader.domain.intents) >= 15 and len(reader.story_blocks) >= 30
    assert {b.language for b in reader.intent_blocks} == {"he", "en"}
    assert {e.key for e in reader.text_entries} == set(reader.catalog.keys())
    assert reader.yaml_problems() == []
