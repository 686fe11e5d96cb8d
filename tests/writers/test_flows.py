"""The writers' flow charts: every story and rule of the real data drawn as valid, bilingual, escaped SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import pytest
import yaml

from console.web import build_jinja
from writers.flows import (
    Flow,
    Project,
    _wrap,
    build_overview,
    load_project,
    render_svg,
    slugify,
    text_width,
)

ROOT = Path(__file__).resolve().parents[2]
SVG = "{http://www.w3.org/2000/svg}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def _raw_flows(root: Path = ROOT) -> List[Tuple[str, Dict[str, Any]]]:
    """(kind, entry) of every story and rule, read straight from the YAML files."""
    out: List[Tuple[str, Dict[str, Any]]] = []
    for folder, key, kind in (("stories", "stories", "story"), ("rules", "rules", "rule")):
        for path in sorted((root / "data" / folder).rglob("*.yml")):
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            out.extend((kind, entry) for entry in document.get(key) or [])
    return out


def _hebrew_examples() -> Dict[str, List[str]]:
    examples: Dict[str, List[str]] = {}
    for path in sorted((ROOT / "data" / "nlu" / "he").glob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" not in item:
                continue
            intent = str(item["intent"]).split("/", 1)[0]
            lines = [line.strip()[2:] for line in str(item.get("examples", "")).splitlines() if line.strip()]
            examples.setdefault(intent, []).extend(" ".join(ENTITY.sub(r"\1", t).split()) for t in lines)
    return examples


def _hebrew_responses() -> Dict[str, str]:
    texts: Dict[str, str] = {}
    for path in sorted((ROOT / "domain").glob("*.yml")):
        responses = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {}
        for name, variations in responses.items():
            for variation in variations:
                conditions = variation.get("condition") or []
                if any(c.get("name") == "language" and c.get("value") == "he" for c in conditions):
                    texts.setdefault(name, " ".join(variation["text"].replace("**", "").split()))
    return texts


def _step_names(steps: List[Any]) -> Iterator[Tuple[str, str]]:
    for step in steps:
        if "intent" in step:
            yield "intent", str(step["intent"])
        elif "action" in step:
            yield "action", str(step["action"])
        elif "or" in step:
            yield from _step_names(step["or"])


RAW = _raw_flows()


@pytest.fixture(scope="module")
def project() -> Project:
    return load_project(ROOT)


def _flow(project: Project, kind: str, name: str) -> Flow:
    matches = [f for f in project.flows if f.kind == kind and f.name == name]
    assert len(matches) == 1, (kind, name)
    return matches[0]


def test_every_story_and_rule_is_a_flow(project: Project):
    assert len(RAW) >= 30
    assert len(project.flows) == len(RAW)
    assert sorted((f.kind, f.name) for f in project.flows) == sorted((k, e[k]) for k, e in RAW)
    slugs = [f.slug for f in project.flows]
    assert len(set(slugs)) == len(slugs)
    assert all(re.fullmatch(r"[a-z0-9-]{1,100}", s) for s in slugs)
    for flow in project.flows:
        lines = (ROOT / flow.file).read_text(encoding="utf-8").splitlines()
        assert lines[flow.line - 1].lstrip("- ").startswith(f"{flow.kind}:"), (flow.file, flow.line)


@pytest.mark.parametrize(("kind", "entry"), RAW, ids=[f"{k}:{e[k]}" for k, e in RAW])
def test_flow_svg_is_valid_and_labelled(project: Project, kind: str, entry: Dict[str, Any]):
    flow = _flow(project, kind, entry[kind])
    svg = render_svg(flow)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert float(root.get("width", "0")) >= 400 and float(root.get("height", "0")) > 100
    texts = list(root.iter(f"{SVG}text"))
    for text in texts:
        assert text.get(XML_LANG) in ("en", "he") and text.get("lang") == text.get(XML_LANG), text.text
        assert "style" not in text.attrib
    names = {t.text for t in texts if "flow-name" in (t.get("class") or "")}
    for step_kind, name in _step_names(entry["steps"]):
        assert name in names, (step_kind, name)

    hebrew = [t for t in texts if t.get(XML_LANG) == "he"]
    assert hebrew, "every flow here has Hebrew labels"
    assert all(t.get("direction") == "rtl" and t.get("text-anchor") == "start" for t in hebrew)
    joined = " ".join(t.text or "" for t in hebrew)
    examples = _hebrew_examples()
    responses = _hebrew_responses()
    for step_kind, name in _step_names(entry["steps"]):
        if step_kind == "intent" and name in examples:
            assert any(example in joined for example in examples[name]), name
        if step_kind == "action" and name in responses:
            assert responses[name][:20] in joined, name


def test_labels_follow_the_chosen_languages(project: Project):
    flow = next(f for f in project.flows if f.name.startswith("late order, the customer takes"))
    only_he = ET.fromstring(render_svg(flow, ["he"]))
    only_en = ET.fromstring(render_svg(flow, ["en"]))
    assert not [t for t in only_he.iter(f"{SVG}text") if "flow-en" in (t.get("class") or "")]
    assert [t for t in only_he.iter(f"{SVG}text") if t.get(XML_LANG) == "he"]
    assert not [t for t in only_en.iter(f"{SVG}text") if t.get(XML_LANG) == "he"]
    assert flow.handoff and flow.forms == ["order_form"] and flow.start_intents == ["complain_late"]
    handoff = [g for g in ET.fromstring(render_svg(flow)).iter(f"{SVG}g") if "flow-handoff" in (g.get("class") or "")]
    assert [g.get("data-kind") for g in handoff] == ["action"]


def test_overview_lists_every_flow(project: Project):
    overview = build_overview(project)
    assert len(overview.flows) == len(RAW)
    assert overview.stories + overview.rules == len(RAW)
    assert sum(len(flows) for _, flows in overview.by_file) == len(RAW)
    started = {f.slug for row in overview.by_intent for f in row.flows} | {f.slug for f in overview.unstarted}
    assert started == {f.slug for f in project.flows}
    rows = {row.intent: row for row in overview.by_intent}
    assert {f.name for f in rows["human_handoff"].flows} >= {"the customer asks for a human"}
    assert all(f.handoff for f in rows["human_handoff"].flows)
    assert rows["order_status"].he and rows["order_status"].en

    page = build_jinja().get_template("console/writers.html").render(
        overview=overview, lang="both", languages=("en", "he"), agent=None, csrf_token="")
    assert page.count('class="flow-row"') == len(RAW)
    for flow in project.flows:
        assert f'href="/console/writers/flows/{flow.slug}"' in page
    assert "style=" not in page and "<script" not in page


FIXTURE_STORY = """\
version: "3.1"
stories:
- story: <script>alert("x")</script> & "friends"
  steps:
  - checkpoint: from_here
  - or:
    - intent: greet
    - intent: thank
  - action: ask_form
  - active_loop: ask_form
  - active_loop: null
  - slot_was_set:
    - "<img src=x onerror=alert(1)>": "a & <b>"
  - action: action_handoff
- story: שיחה בעברית
  steps:
  - intent: greet
  - action: utter_hi
rules:
- rule: only at the start
  conversation_start: true
  wait_for_user_input: false
  condition:
  - active_loop: ask_form
  - slot_was_set:
    - asked: true
  steps:
  - intent: greet
  - action: utter_hi
"""
FIXTURE_DOMAIN = """\
version: "3.1"
intents: [greet, thank]
forms:
  ask_form:
    required_slots: [thing]
responses:
  utter_hi:
  - text: "Hi <b>there</b> & welcome"
  - text: "שלום <i>לך</i>"
    condition:
    - type: slot
      name: language
      value: he
"""


@pytest.fixture()
def fixture_project(tmp_path: Path) -> Project:
    (tmp_path / "data" / "stories").mkdir(parents=True)
    (tmp_path / "data" / "nlu" / "en").mkdir(parents=True)
    (tmp_path / "data" / "nlu" / "he").mkdir(parents=True)
    (tmp_path / "data" / "messages").mkdir(parents=True)
    (tmp_path / "domain").mkdir()
    (tmp_path / "data" / "stories" / "fixture.yml").write_text(FIXTURE_STORY, encoding="utf-8")
    (tmp_path / "domain" / "core.yml").write_text(FIXTURE_DOMAIN, encoding="utf-8")
    (tmp_path / "data" / "nlu" / "en" / "nlu.yml").write_text(
        'nlu:\n- intent: greet\n  examples: |\n    - hello <there> & you\n- intent: thank\n  examples: |\n'
        '    - thanks a lot friend\n', encoding="utf-8")
    (tmp_path / "data" / "nlu" / "he" / "nlu.yml").write_text(
        'nlu:\n- intent: greet\n  examples: |\n    - שלום <u>עולם</u> יפה\n', encoding="utf-8")
    (tmp_path / "data" / "messages" / "m.yml").write_text(
        'messages:\n  ask_thing:\n    en: "Which <thing>?"\n    he: "איזה <דבר>?"\n', encoding="utf-8")
    return load_project(tmp_path)


def test_fixture_story_with_or_loop_and_markup_is_escaped(fixture_project: Project):
    assert [f.kind for f in fixture_project.flows] == ["story", "story", "rule"]
    evil = fixture_project.flows[0]
    assert evil.name == '<script>alert("x")</script> & "friends"'
    assert evil.slug == "script-alert-x-script-friends"
    assert fixture_project.flows[1].slug == "story-2"  # a Hebrew name has no ASCII slug
    assert evil.start_intents == ["greet", "thank"] and evil.forms == ["ask_form"] and evil.handoff

    svg = render_svg(evil)
    root = ET.fromstring(svg)
    tags = {el.tag for el in root.iter()}
    assert tags <= {f"{SVG}{t}" for t in ("svg", "title", "defs", "marker", "path", "g", "rect", "polygon",
                                          "line", "circle", "text")}
    assert "<script" not in svg and "<img" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg
    assert root.find(f"{SVG}title").text == 'story: <script>alert("x")</script> & "friends"'  # type: ignore[union-attr]
    all_text = [t.text for t in root.iter(f"{SVG}text")]
    assert "<img src=x onerror=alert(1)> = a & <b>" in all_text
    assert "“hello <there> & you”" in all_text
    assert '"שלום <u>עולם</u> יפה"' in all_text
    assert "Which <thing>?" in all_text

    groups = {g.get("data-kind"): g for g in root.iter(f"{SVG}g") if g.get("data-kind") == "or"}
    assert "or" in groups
    branches = [g for g in groups["or"].iter(f"{SVG}g") if g.get("data-kind") == "intent"]
    assert len(branches) == 2
    rects = [g.find(f"{SVG}rect") for g in branches]
    xs = [float(r.get("x", "0")) for r in rects if r is not None]
    ys = [float(r.get("y", "0")) for r in rects if r is not None]
    assert xs[0] + float(rects[0].get("width", "0")) <= xs[1] and ys[0] == ys[1]  # type: ignore[union-attr]
    kinds = [g.get("data-kind") for g in root.iter(f"{SVG}g") if g.get("data-kind") != "or"]
    assert kinds == ["checkpoint", "intent", "intent", "form", "loop", "loop", "slot", "action"]
    handoff = [g for g in root.iter(f"{SVG}g") if "flow-handoff" in (g.get("class") or "")]
    assert len(handoff) == 1

    rule = fixture_project.flows[2]
    assert rule.conversation_start and not rule.waits
    assert rule.conditions[0].meta == ["at the start of a conversation", "form ask_form is running", "asked = true"]
    rule_text = [t.text for t in ET.fromstring(render_svg(rule)).iter(f"{SVG}text")]
    assert "Hi <b>there</b> & welcome" in rule_text and "שלום <i>לך</i>" in rule_text
    assert "goes on without waiting for the customer" in rule_text

    page = build_jinja().get_template("console/writers_flow.html").render(
        flow=evil, name=evil.slug, svg=svg, lang="both", languages=("en", "he"), previous=None,
        following=None, agent=None, csrf_token="")
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page
    overview = build_overview(fixture_project)
    assert [row.intent for row in overview.by_intent] == ["greet", "thank"]
    assert len(overview.flows) == 3


def test_wrapping_and_slugs():
    lines = _wrap("word " * 200, 200)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(text_width(line) <= 200 for line in lines)
    long_word = _wrap("x" * 100, 100, max_lines=20)
    assert "".join(long_word) == "x" * 100 and all(text_width(line) <= 100 for line in long_word)
    assert text_width("שלום") > 0 and text_width("iii") < text_width("mmm")
    assert slugify("FAQ (the ResponseSelector picks the answer)") == "faq-the-responseselector-picks-the-answer"
    assert slugify("שלום") == ""
