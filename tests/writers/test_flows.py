"""The flow charts' model: every story and rule of the real data as a flow, labelled from the project's files."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from tests.helpers.texts import catalog
from tests.helpers.writers_flows import make_flow_project, raw_flows, render_page
from writers.flows import Flow, Flows, Node, build_overview, load_flows, slugify

RAW = raw_flows()
ISOLATES = str.maketrans("", "", "\u2066\u2067\u2068\u2069")
HEBREW = re.compile(r"[\u05d0-\u05ea]")


@pytest.fixture(scope="module")
def flows() -> Flows:
    return load_flows(PROJECT_ROOT)


@pytest.fixture()
def fixture_flows(tmp_path: Path) -> Flows:
    return load_flows(make_flow_project(tmp_path))


def _flow(flows: Flows, kind: str, name: str) -> Flow:
    matches = [f for f in flows.flows if f.kind == kind and f.name == name]
    assert len(matches) == 1, (kind, name)
    return matches[0]


def test_every_story_and_rule_is_a_flow(flows: Flows):
    assert len(RAW) >= 30
    assert len(flows.flows) == len(RAW)
    assert sorted((f.kind, f.name) for f in flows.flows) == sorted((k, e[k]) for k, e in RAW)
    slugs = [f.slug for f in flows.flows]
    assert len(set(slugs)) == len(slugs)
    assert all(re.fullmatch(r"[a-z0-9-]{1,100}", s) for s in slugs)
    for flow in flows.flows:
        lines = (PROJECT_ROOT / flow.file).read_text(encoding="utf-8").splitlines()
        assert lines[flow.line - 1].lstrip("- ").startswith(f"{flow.kind}:"), (flow.file, flow.line)


def test_what_an_action_says_comes_from_the_text_catalog(flows: Flows):
    flow = next(f for f in flows.flows if f.name.startswith("late order, the customer takes"))
    assert flow.handoff and flow.forms == ["order_form"] and flow.start_intents == ["complain_late"]
    handoff = next(n for n in flow.nodes() if n.name == "action_handoff")
    for language in ("en", "he"):
        said = catalog().entry("handoff_requested").variations[language][0].text
        assert " ".join(said.replace("**", "").split()) in handoff.tooltip, language
    form = next(n for n in flow.nodes() if n.kind == "form")
    assert (form.en, form.he) == (catalog().text("ask_order_id", "en"), catalog().text("ask_order_id", "he"))


def test_overview_lists_every_flow(flows: Flows):
    overview = build_overview(flows)
    assert len(overview.flows) == len(RAW)
    assert overview.stories + overview.rules == len(RAW)
    assert sum(len(started) for _, started in overview.by_file) == len(RAW)
    started = {f.slug for row in overview.by_intent for f in row.flows} | {f.slug for f in overview.unstarted}
    assert started == {f.slug for f in flows.flows}
    rows = {row.intent: row for row in overview.by_intent}
    assert {f.name for f in rows["human_handoff"].flows} >= {"the customer asks for a human"}
    assert all(f.handoff for f in rows["human_handoff"].flows)
    assert rows["order_status"].he and rows["order_status"].en

    page = render_page("console/writers.html", overview=overview, lang="both", languages=("en", "he"))
    assert page.count('class="flow-row"') == len(RAW)
    for flow in flows.flows:
        assert f'href="/console/writers/flows/{flow.slug}"' in page
    assert "style=" not in page and "<script" not in page


def test_the_fixture_flows(fixture_flows: Flows):
    assert [f.kind for f in fixture_flows.flows] == ["story", "story", "rule"]
    evil, hebrew, rule = fixture_flows.flows
    assert evil.name == '<script>alert("x")</script> & "friends"'
    assert evil.slug == "script-alert-x-script-friends"
    assert hebrew.slug == "story-2"  # a Hebrew name has no ASCII slug
    assert evil.start_intents == ["greet", "thank"] and evil.forms == ["ask_form"] and evil.handoff
    assert [n.kind for n in evil.nodes()] == ["checkpoint", "or", "intent", "intent", "form", "loop", "loop", "slot",
                                              "action"]
    form = next(n for n in evil.nodes() if n.kind == "form")
    assert (form.en, form.he, form.meta) == ("Which <thing>?", "איזה <דבר>?", ["asks for: thing"])
    slot = next(n for n in evil.nodes() if n.kind == "slot")
    written = "<img src=x onerror=alert(1)>: a & <b>"
    assert (slot.meta, slot.code) == ([written], [written])  # no name: the raw name, and the value as it is
    handoff = next(n for n in evil.nodes() if n.name == "action_handoff")
    assert handoff.tooltip == "Says, e.g.: Passing you to <a person> & co.\nמעבירים אותך לנציג."
    # What it does comes from the catalog's flow_<action>, in both languages.
    assert (handoff.en, handoff.he) == ("Hands the conversation to <a person>", "מעביר את השיחה לנציג")
    assert rule.conversation_start and not rule.waits
    # The form's plain name comes from the project's catalog; the slot has none: its raw name shows.
    assert rule.conditions[0].meta == ["at the start of a conversation", "while asking for the <thing>", "asked: yes"]
    assert rule.conditions[0].code == ["conversation_start: true", "active_loop: ask_form", "asked: true"]
    overview = build_overview(fixture_flows)
    assert [row.intent for row in overview.by_intent] == ["greet", "thank"]
    assert (overview.by_intent[0].en, overview.by_intent[0].he) == ("hello <there> & you", "שלום <u>עולם</u> יפה")
    assert len(overview.flows) == 3


def test_a_catalog_kesher_cannot_load_leaves_the_tooltips_out(tmp_path: Path):
    root = make_flow_project(tmp_path)
    (root / "data/texts/actions.yml").write_text("texts:\n  ask_thing: [\n", encoding="utf-8")
    flows = load_flows(root)
    form = next(n for n in flows.flows[0].nodes() if n.kind == "form")
    assert (form.en, form.he) == ("", "") and len(flows.flows) == 3


def test_slugs():
    assert slugify("FAQ (the ResponseSelector picks the answer)") == "faq-the-responseselector-picks-the-answer"
    assert slugify("שלום") == ""


def _words(node: Node) -> list[str]:
    return [line.translate(ISOLATES) for line in node.meta]


def test_conditions_and_memory_steps_read_as_plain_words_in_the_console_language(flows: Flows):
    hebrew = load_flows(PROJECT_ROOT, "he")
    words = {
        "en": {"offer": ["a person was offered"], "closed": ["no offer of a person is open"],
               "yes": ["the bot is not in the middle of a form's questions", "no offer of a person is open"],
               "callback": ["while asking for the callback details"],
               "ends": ["the questions end (all answered, or stopped)"],
               "done": ["no question is waiting for an answer"], "loop": ["the bot asks for the order details"]},
        "he": {"offer": ["הוצע לדבר עם נציג"], "closed": ["אין הצעה פתוחה לדבר עם נציג"],
               "yes": ["הבוט לא באמצע השאלות של טופס", "אין הצעה פתוחה לדבר עם נציג"],
               "callback": ["בזמן שהבוט שואל על פרטי השיחה החוזרת"],
               "ends": ["השאלות הסתיימו (כולן נענו, או שהופסקו)"],
               "done": ["אין שאלה שמחכה לתשובה"], "loop": ["הבוט שואל על פרטי ההזמנה"]},
    }
    for language, found in (("en", flows), ("he", hebrew)):
        said = words[language]
        accepts = _flow(found, "rule", "the customer accepts our offer of a human")
        assert _words(accepts.conditions[0]) == said["offer"] and accepts.conditions[0].code == ["human_offered: true"]
        memory = next(n for n in accepts.nodes() if n.kind == "slot")
        assert _words(memory) == said["closed"] and memory.code == ["human_offered: false"]
        yes = _flow(found, "rule", "a yes with nothing to agree to").conditions[0]
        assert _words(yes) == said["yes"] and yes.code == ["active_loop: null", "human_offered: false"]
        complete = _flow(found, "rule", "the callback form is complete")
        assert _words(complete.conditions[0]) == said["callback"]
        loop, slot = (n for n in complete.nodes() if n.kind in ("loop", "slot"))
        assert (_words(loop), _words(slot), slot.code) == (said["ends"], said["done"], ["requested_slot: null"])
        order = next(n for n in _flow(found, "rule", "order status").nodes() if n.kind == "loop")
        assert _words(order) == said["loop"] and order.code == ["active_loop: order_form"]
        form = next(n for n in _flow(found, "rule", "order status").nodes() if n.kind == "form")
        assert ("the order number" if language == "en" else "מספר ההזמנה") in form.meta[0].translate(ISOLATES)
        for flow in found.flows:
            for node in flow.nodes():
                text = " ".join([node.tag, *node.meta])
                assert not re.search(r" = |\bis set\b|\bis running\b|slot was set|_form\b|human_offered", text), \
                    (flow.name, text)


def test_every_tag_and_fixed_phrase_is_the_catalogs_in_the_console_language():
    texts = catalog()
    for language in ("en", "he"):
        found = load_flows(PROJECT_ROOT, language)
        tags = {texts.text(k, language) for k in texts.keys("flow_tag_")}
        for flow in found.flows:
            assert flow.language == language
            assert flow.title.translate(ISOLATES) == texts.text(f"flow_title_{flow.kind}", language,
                                                                 name=flow.name).translate(ISOLATES)
            assert flow.start in {texts.text(k, language) for k in ("flow_start_conversation", "flow_start_story",
                                                                     "flow_start_rule")}
            assert flow.end in {texts.text(k, language) for k in ("flow_end_waits", "flow_end_goes_on")}
            for node in flow.nodes():
                assert node.tag in tags, (flow.name, node.tag)
                if language == "he":
                    assert HEBREW.search(node.tag) and all(HEBREW.search(line) for line in node.meta), node
                    assert not re.search("[A-Za-z]", node.tag)


def test_an_unnamed_slot_shows_its_raw_name_and_the_words_come_from_kesher(tmp_path: Path):
    # The fixture's own catalog has none of the chart's words: they come from Kesher's catalog all the same.
    _, _, rule = load_flows(make_flow_project(tmp_path), "he").flows
    condition = rule.conditions[0]
    assert (condition.tag, _words(condition)) == ("רק כאשר", ["בתחילת שיחה", "בזמן שהבוט שואל על ה<דבר>",
                                                              "asked: כן"])
    assert condition.code == ["conversation_start: true", "active_loop: ask_form", "asked: true"]
    assert (rule.start, rule.end) == ("תחילת שיחה", "ממשיך בלי לחכות ללקוח")
