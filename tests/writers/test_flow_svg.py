"""The flow charts' drawing: every story and rule of the real data as valid, bilingual, escaped SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Dict

import pytest

from core.settings import PROJECT_ROOT
from tests.helpers.writers_flows import (
    hebrew_examples,
    hebrew_responses,
    make_flow_project,
    raw_flows,
    render_page,
    step_names,
)
from writers.flow_svg import PAD, render_svg, text_width, wrap
from writers.flows import Flows, load_flows

SVG = "{http://www.w3.org/2000/svg}"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"
RAW = raw_flows()


@pytest.fixture(scope="module")
def flows() -> Flows:
    return load_flows(PROJECT_ROOT)


@pytest.mark.parametrize(("kind", "entry"), RAW, ids=[f"{k}:{e[k]}" for k, e in RAW])
def test_flow_svg_is_valid_and_labelled(flows: Flows, kind: str, entry: Dict[str, Any]):
    flow = next(f for f in flows.flows if f.kind == kind and f.name == entry[kind])
    root = ET.fromstring(render_svg(flow))
    assert root.tag == f"{SVG}svg"
    assert float(root.get("width", "0")) >= 400 and float(root.get("height", "0")) > 100
    texts = list(root.iter(f"{SVG}text"))
    for text in texts:
        assert text.get(XML_LANG) in ("en", "he") and text.get("lang") == text.get(XML_LANG), text.text
        assert "style" not in text.attrib
    names = {t.text for t in texts if "flow-name" in (t.get("class") or "")}
    for step_kind, name in step_names(entry["steps"]):
        assert name in names, (step_kind, name)

    hebrew = [t for t in texts if t.get(XML_LANG) == "he"]
    assert hebrew, "every flow here has Hebrew labels"
    assert all(t.get("direction") == "rtl" and t.get("text-anchor") == "start" for t in hebrew)
    joined = " ".join(t.text or "" for t in hebrew)
    examples, responses = hebrew_examples(), hebrew_responses()
    for step_kind, name in step_names(entry["steps"]):
        if step_kind == "intent" and name in examples:
            assert any(example in joined for example in examples[name]), name
        if step_kind == "action" and name in responses:
            assert responses[name][:20] in joined, name


def test_labels_follow_the_chosen_languages(flows: Flows):
    flow = next(f for f in flows.flows if f.name.startswith("late order, the customer takes"))
    only_he = ET.fromstring(render_svg(flow, ["he"]))
    only_en = ET.fromstring(render_svg(flow, ["en"]))
    assert not [t for t in only_he.iter(f"{SVG}text") if "flow-en" in (t.get("class") or "")]
    assert [t for t in only_he.iter(f"{SVG}text") if t.get(XML_LANG) == "he"]
    assert not [t for t in only_en.iter(f"{SVG}text") if t.get(XML_LANG) == "he"]
    handoff = [g for g in ET.fromstring(render_svg(flow)).iter(f"{SVG}g") if "flow-handoff" in (g.get("class") or "")]
    assert [g.get("data-kind") for g in handoff] == ["action"]
    tooltip = next(g for g in handoff).find(f"{SVG}title")
    assert tooltip is not None and (tooltip.text or "").startswith("action_handoff: Says, e.g.: ")


def test_markup_in_the_data_is_escaped(tmp_path: Path):
    fixture = load_flows(make_flow_project(tmp_path))
    evil, _, rule = fixture.flows
    svg = render_svg(evil)
    root = ET.fromstring(svg)
    tags = {el.tag for el in root.iter()}
    assert tags <= {f"{SVG}{t}" for t in ("svg", "title", "defs", "marker", "path", "g", "rect", "polygon",
                                          "line", "circle", "text")}
    assert "<script" not in svg and "<img" not in svg and "<b>" not in svg
    assert "&lt;script&gt;" in svg
    assert root.find(f"{SVG}title").text == 'story: <script>alert("x")</script> & "friends"'  # type: ignore[union-attr]
    all_text = [t.text for t in root.iter(f"{SVG}text")]
    assert all_text.count("<img src=x onerror=alert(1)>: a & <b>") == 2  # in words (no name), and as written
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

    rule_text = [t.text for t in ET.fromstring(render_svg(rule)).iter(f"{SVG}text")]
    assert "Hi <b>there</b> & welcome" in rule_text and "שלום <i>לך</i>" in rule_text
    assert "goes on without waiting for the customer" in rule_text

    page = render_page("console/writers_flow.html", flow=evil, name=evil.slug, svg=svg, lang="both",
                       languages=("en", "he"), previous=None, following=None)
    assert "<script>alert" not in page and "&lt;script&gt;alert" in page


def test_wrapping():
    lines = wrap("word " * 200, 200)
    assert len(lines) == 3 and lines[-1].endswith("…")
    assert all(text_width(line) <= 200 for line in lines)
    long_word = wrap("x" * 100, 100, max_lines=20)
    assert "".join(long_word) == "x" * 100 and all(text_width(line) <= 100 for line in long_word)
    assert text_width("שלום") > 0 and text_width("iii") < text_width("mmm")


def test_a_hebrew_console_chart_says_its_words_in_hebrew_right_to_left():
    name = "the customer accepts our offer of a human"
    flow = next(f for f in load_flows(PROJECT_ROOT, "he").flows if f.name == name)
    svg = render_svg(flow)
    root = ET.fromstring(svg)
    texts = list(root.iter(f"{SVG}text"))

    def of(css: str) -> list[ET.Element]:
        return [t for t in texts if css in (t.get("class") or "").split()]

    for css in ("flow-tag", "flow-meta", "flow-terminal"):
        assert of(css), css
        for text in of(css):
            assert text.get(XML_LANG) == "he" and text.get("direction") == "rtl", (css, text.text)
            assert re.search("[\u05d0-\u05ea]", text.text or "") and not re.search("[A-Za-z]", text.text or "")
    assert [t.text for t in of("flow-tag")] == ["רק כאשר", "הלקוח כותב", "העברה לנציג", "הבוט זוכר"]
    meta = [(t.text or "") for t in of("flow-meta")]
    assert meta == ["הוצע לדבר עם נציג", "אין הצעה פתוחה לדבר עם נציג"]
    # a Hebrew line starts at the box's right edge, like the Hebrew labels
    condition = next(g for g in root.iter(f"{SVG}g") if g.get("data-kind") == "condition")
    shape, line = condition.find(f"{SVG}rect"), condition.find(f"{SVG}text[@class='flow-meta']")
    assert shape is not None and line is not None
    assert float(line.get("x", "0")) == float(shape.get("x", "0")) + float(shape.get("width", "0")) - PAD
    assert line.get("text-anchor") == "start"
    # The YAML as written stays, as small left-to-right code (and in the box's tooltip), never as "= true".
    code = of("flow-code")
    assert [t.text for t in code] == ["human_offered: true", "human_offered: false"]
    assert all(t.get(XML_LANG) == "en" and t.get("direction") == "ltr" for t in code)
    assert (condition.find(f"{SVG}title").text or "").startswith("human_offered: true: ")  # type: ignore[union-attr]
    assert "= true" not in svg and "is set" not in svg and "slot was set" not in svg
    assert (root.find(f"{SVG}title").text or "").startswith("כלל: ")  # type: ignore[union-attr]

    english = ET.fromstring(render_svg(next(f for f in load_flows(PROJECT_ROOT).flows if f.name == flow.name)))
    tags = [t.text for t in english.iter(f"{SVG}text") if t.get("class") == "flow-tag"]
    assert tags == ["ONLY WHEN", "CUSTOMER SAYS", "HANDOFF", "MEMORY"]
    assert [t.text for t in english.iter(f"{SVG}text") if t.get("class") == "flow-meta"] == [
        "a person was offered", "no offer of a person is open"]
