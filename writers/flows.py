"""The writers' flow charts, the model: the project's stories and rules as flows of labelled steps.

Everything is read through the project reader (:class:`writers.project.Project`)
each time, so a chart always shows what the files say now:

* the stories and rules (Rasa 3.1 format) give the flows;
* the domain gives the responses (an English default variation and a Hebrew
  one conditioned on ``language: he``), the forms and their questions;
* the NLU data (``data/nlu/<language>/``) gives one example sentence per intent and language;
* the text catalog (``data/texts``, :mod:`core.texts`) gives what the custom
  actions say (shown as tooltips) and the forms' questions, the plain names of
  the slots, their values and the forms (``flow_slot_<slot>``,
  ``flow_slot_<slot>_<value>``, ``flow_form_<form>`` in ``data/texts/flows.yml``),
  and the chart's own words (tags, conditions, start and end).

The chart's own words, and the conditions and memory steps said in plain words,
are in the writer's console language (``language`` of :func:`read_flows`); the
labels (examples, responses, what an action does) come in both languages. A slot
or form without a name shows its raw name, and every condition and memory step
keeps its YAML form (``human_offered: true``) as small code text, so a writer
can still find it in the files.

:func:`read_flows` builds the flows, :func:`build_overview` says which intents
start which flows and where they lead; :mod:`writers.flow_svg` draws one flow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

from core.language import LANGUAGES as KESHER_LANGUAGES
from core.settings import PROJECT_ROOT
from core.texts import TextCatalog, TextError
from writers.project import Project, StoryBlock, plain_example

__all__ = [
    "CONTROL_CHARACTERS",
    "LANGUAGES",
    "Flow",
    "Flows",
    "IntentRow",
    "Labels",
    "Node",
    "Overview",
    "Phrases",
    "build_overview",
    "kesher_phrases",
    "load_flows",
    "read_flows",
    "slugify",
]

LANGUAGES = tuple(sorted(KESHER_LANGUAGES))  # the order of a chart's label lines: English, then Hebrew

# What a custom action says, for the tooltip of its box (the catalog key of one of its texts). What each
# action and each of Rasa's own intents does is the catalog's flow_<action> and flow_intent_<intent>.
ACTION_SAYS: Dict[str, str] = {
    "action_order_task": "order_status_shipped",
    "action_kb_answer": "kb_answer",
    "action_out_of_scope": "out_of_scope",
    "action_fallback": "ask_rephrase",
    "action_handoff": "handoff_requested",
    "action_decline_human": "human_declined",
    "action_ask_csat": "csat_bot_question",
    "action_csat_answer": "csat_bot_thanks",
}
CONTROL_CHARACTERS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")  # not allowed in XML
_BOLD = re.compile(r"\*\*|__")
_KEY_PART = re.compile(r"^[a-z0-9_]+$")


# -- the model ---------------------------------------------------------------------------
@dataclass
class Node:
    """One step of a flow (or one alternative of an ``or`` step).

    Attributes:
        kind: ``intent``, ``response``, ``action``, ``form``, ``loop``, ``slot``,
            ``condition``, ``checkpoint``, ``or``, ``other``.
        name: The intent, action, form, checkpoint name (the raw name a writer finds in the YAML).
        tag: A short caption for the kind ("customer says", "bot says", ...), in the console language.
        en: The English label text (an example sentence, a response, a description).
        he: The Hebrew label text.
        meta: Lines in the console language (a condition or memory step in words, the form's questions).
        code: The step as written in the YAML (``human_offered: true``), drawn as small code text.
        show_name: Whether the chart draws ``name`` (not for conditions, memory steps and form states,
            which ``meta`` says in words and ``code`` as written).
        tooltip: Longer text shown on hover.
        handoff: The step hands the conversation to a person (its name says "handoff").
        branches: The alternatives of an ``or`` step, side by side.
    """

    kind: str
    name: str
    tag: str = ""
    en: str = ""
    he: str = ""
    meta: List[str] = field(default_factory=list)
    code: List[str] = field(default_factory=list)
    show_name: bool = True
    tooltip: str = ""
    handoff: bool = False
    branches: List[List[Node]] = field(default_factory=list)

    def walk(self) -> Iterator[Node]:
        """This node and every node of its branches."""
        yield self
        for branch in self.branches:
            for node in branch:
                yield from node.walk()


@dataclass
class Flow:
    """A story or a rule.

    Attributes:
        name: Its ``story:`` / ``rule:`` name.
        kind: ``story`` or ``rule``.
        file: Its file, relative to the project.
        line: The 1-based line its entry starts on.
        steps: Its steps, in order.
        conditions: A rule's ``condition`` (what must hold before it applies).
        slug: The URL-safe name, unique in the project.
        conversation_start: A rule that applies only at the start of a conversation.
        waits: False for a rule with ``wait_for_user_input: false``.
        language: The console language of the tags, conditions and terminal labels.
        title: The chart's title (``story: <name>``), start and end: its start and end labels.
        form_names: Each form the flow runs → its plain name in the console language (``flow_form_<form>``).
    """

    name: str
    kind: str
    file: str
    line: int
    steps: List[Node]
    conditions: List[Node] = field(default_factory=list)
    slug: str = ""
    conversation_start: bool = False
    waits: bool = True
    language: str = "en"
    title: str = ""
    start: str = ""
    end: str = ""
    form_names: Dict[str, str] = field(default_factory=dict)

    def nodes(self) -> Iterator[Node]:
        """Every node of the flow: its conditions, then its steps and their branches."""
        for node in self.conditions + self.steps:
            yield from node.walk()

    @property
    def start_intents(self) -> List[str]:
        """The intents the flow starts with (several for a leading ``or``; none if it starts with the bot)."""
        for step in self.steps:
            if step.kind == "intent":
                return [step.name]
            if step.kind == "or":
                return [n.name for branch in step.branches for n in branch[:1] if n.kind == "intent"]
            if step.kind in ("checkpoint", "slot"):
                continue
            return []
        return []

    @property
    def forms(self) -> List[str]:
        """The forms the flow runs (the ``action`` steps that are forms), in order, once each."""
        seen: List[str] = []
        for node in self.nodes():
            if node.kind == "form" and node.name not in seen:
                seen.append(node.name)
        return seen

    @property
    def handoff(self) -> bool:
        """Whether a step of the flow (not its condition) hands the conversation to a person."""
        return any(node.handoff for step in self.steps for node in step.walk())


@dataclass
class Labels:
    """What labels the nodes: examples, responses, forms and catalog texts, per language.

    Attributes:
        examples: intent → language → example sentences (entity markup removed).
        responses: response name → language → its first text in that language.
        forms: form name → its required slots.
        texts: catalog key → language → its text (arguments not filled in).
        intents: The domain's intents, in the domain's order.
    """

    examples: Dict[str, Dict[str, List[str]]] = field(default_factory=dict)
    responses: Dict[str, Dict[str, str]] = field(default_factory=dict)
    forms: Dict[str, List[str]] = field(default_factory=dict)
    texts: Dict[str, Dict[str, str]] = field(default_factory=dict)
    intents: List[str] = field(default_factory=list)

    def example(self, intent: str, language: str) -> str:
        """One example sentence of ``intent`` in ``language`` ("" when there is none).

        A retrieval intent (``faq``) takes the examples of its first sub-intent
        (``faq/shipping_time``). The first example of three words or more that is
        not too long is preferred: it says more than "hi".
        """
        found = self.examples.get(intent, {}).get(language) or []
        if not found:
            prefix = f"{intent}/"
            for key in self.examples:
                if key.startswith(prefix) and self.examples[key].get(language):
                    found = self.examples[key][language]
                    break
        for text in found:
            if len(text.split()) >= 3 and len(text) <= 60:
                return text
        return found[0] if found else ""

    def named(self, kind: str, name: str, language: str) -> str:
        """The plain name of a slot or form (``flow_<kind>_<name>``) in ``language``, else the raw name."""
        return self.texts.get(f"flow_{kind}_{name}", {}).get(language) or name

    def sub_intents(self, intent: str) -> List[str]:
        """The retrieval sub-intents of ``intent`` (``faq/...``)."""
        prefix = f"{intent}/"
        return [key for key in self.examples if key.startswith(prefix)]


@dataclass
class Phrases:
    """The chart's own words (``flow_...`` keys of the text catalog) in the writer's console language.

    Attributes:
        language: The console language (``he`` or ``en``).
        catalog: The catalog (None when it cannot be loaded: the key itself stands for its text).
    """

    language: str = "en"
    catalog: Optional[TextCatalog] = None

    def __call__(self, key: str, /, **values: Any) -> str:
        """The text of ``key`` with its values (the key itself when the catalog lacks it: nothing breaks)."""
        if self.catalog is not None and key in self.catalog:
            try:
                return _clean(self.catalog.text(key, self.language, **values))
            except TextError:
                pass
        return key


@lru_cache(maxsize=1)
def kesher_phrases() -> Optional[TextCatalog]:
    """Kesher's own text catalog (``data/texts`` of this checkout), None when it cannot be loaded."""
    try:
        return TextCatalog.load(PROJECT_ROOT / "data" / "texts")
    except TextError:
        return None


@dataclass
class Flows:
    """A project's flows and what labels them."""

    flows: List[Flow]
    labels: Labels

    def flow(self, slug: str) -> Optional[Flow]:
        """The flow with this slug, or None."""
        return next((f for f in self.flows if f.slug == slug), None)


# -- reading the project -----------------------------------------------------------------
def _clean(text: Any) -> str:
    """One line of plain text: control characters (invalid in XML) and Markdown bold removed."""
    text = CONTROL_CHARACTERS.sub("", str(text))
    text = _BOLD.sub("", text)
    return " ".join(text.split())


def read_labels(project: Project) -> Labels:
    """The labels of a project: NLU examples, domain responses and forms, catalog texts.

    A catalog Kesher cannot load (the content check says why) leaves its texts out.
    """
    labels = Labels(intents=list(project.domain.intents), forms=dict(project.domain.form_slots))
    for block in project.intent_blocks:
        if block.language is not None:
            texts = (_clean(plain_example(e.text)) for e in block.examples)
            labels.examples.setdefault(block.intent, {}).setdefault(block.language, []).extend(t for t in texts if t)
    for name in project.domain.responses:
        labels.responses[name] = {lang: t for lang, t in
                                  ((lang, _clean(text)) for lang, text in project.domain.texts(name).items()) if t}
    try:
        catalog = project.catalog
    except TextError:
        return labels
    for language in KESHER_LANGUAGES:
        for key, text in catalog.templates("", language).items():
            labels.texts.setdefault(key, {})[language] = _clean(text)
    return labels


def slugify(name: str) -> str:
    """A URL-safe slug of a flow's name: lowercase ASCII letters, digits and dashes.

    Args:
        name: The flow's name.

    Returns:
        The slug ("" when the name has no ASCII letter or digit).
    """
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80].strip("-")


def _format_value(value: Any) -> str:
    """A value as YAML writes it (``true``, ``null``, ``late``)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return _clean(value)


def _slot_words(slot: str, value: Any, labels: Labels, say: Phrases) -> str:
    """A slot and its value in plain words: the value's own phrase, else the slot's name with the value."""
    written = _format_value(value)
    phrase = labels.texts.get(f"flow_slot_{slot}_{written}", {}).get(say.language) if _KEY_PART.match(written) \
        else None
    if phrase:
        return phrase
    name = labels.named("slot", slot, say.language)
    if value is None:
        return say("flow_slot_not_known", slot=name)
    if isinstance(value, bool):
        return say("flow_slot_is", slot=name, value=say("flow_value_true" if value else "flow_value_false"))
    return say("flow_slot_is", slot=name, value=written)


def _slot_lines(items: Any, labels: Labels, say: Phrases) -> Tuple[List[str], List[str]]:
    """The words and the YAML form of a ``slot_was_set``'s items."""
    words: List[str] = []
    code: List[str] = []
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, Mapping):
            for key, value in item.items():
                slot = _clean(key)
                words.append(_slot_words(slot, value, labels, say))
                code.append(f"{slot}: {_format_value(value)}")
        elif item is not None:
            slot = _clean(item)
            known = labels.texts.get(f"flow_slot_{slot}_set", {}).get(say.language)
            words.append(known or say("flow_slot_is_known", slot=labels.named("slot", slot, say.language)))
            code.append(slot)
    return words, code


def _intent_node(name: str, step: Mapping[str, Any], labels: Labels, say: Phrases) -> Node:
    en, he = labels.example(name, "en"), labels.example(name, "he")
    node = Node("intent", name, tag=say("flow_tag_intent"), handoff="handoff" in name.lower())
    if en or he:
        node.en, node.he = (f"“{en}”" if en else ""), (f"\"{he}\"" if he else "")
    elif f"flow_intent_{name}" in labels.texts:
        described = labels.texts[f"flow_intent_{name}"]
        node.en, node.he = described.get("en", ""), described.get("he", "")
    subs = labels.sub_intents(name)
    if subs:
        node.meta.append(say("flow_sub_intents", count=len(subs),
                             names=", ".join(s.split("/", 1)[1] for s in subs[:3])))
    entities = step.get("entities")
    if entities:
        names = [next(iter(e)) if isinstance(e, Mapping) else e for e in entities]
        node.meta.append(say("flow_with_entities", entities=", ".join(_clean(n) for n in names)))
    return node


def _response_node(name: str, labels: Labels, say: Phrases) -> Node:
    node = Node("response", name, tag=say("flow_tag_response"), handoff="handoff" in name.lower())
    texts = labels.responses.get(name)
    if texts:
        node.en, node.he = texts.get("en", ""), texts.get("he", "")
        return node
    prefix = f"{name}/"
    variants = [key for key in labels.responses if key.startswith(prefix)]
    if variants:
        first = labels.responses[variants[0]]
        topic = variants[0].split("/", 1)[1].replace("_", " ")
        node.tag = say("flow_tag_answers")
        node.meta.append(say("flow_answers", count=len(variants), topic=topic))
        node.en, node.he = first.get("en", ""), first.get("he", "")
        node.tooltip = say("flow_answers_list", names=", ".join(v.split("/", 1)[1] for v in variants))
    return node


def _action_node(name: str, labels: Labels, say: Phrases) -> Node:
    handoff = "handoff" in name.lower()
    if name in labels.forms:
        slots = labels.forms[name]
        node = Node("form", name, tag=say("flow_tag_form"), handoff=handoff)
        asked = ", ".join(labels.named("slot", slot, say.language) for slot in slots)
        node.meta.append(say("flow_asks_for", slots=asked) if slots else say("flow_form_without_slots"))
        if slots:
            first = labels.texts.get(f"ask_{slots[0]}") or labels.responses.get(f"utter_ask_{slots[0]}", {})
            node.en, node.he = first.get("en", ""), first.get("he", "")
        return node
    if name.startswith("utter_"):
        return _response_node(name, labels, say)
    node = Node("action", name, tag=say("flow_tag_handoff" if handoff else "flow_tag_action"), handoff=handoff)
    described = labels.texts.get(f"flow_{name}")
    if described:
        node.en, node.he = described.get("en", ""), described.get("he", "")
        says = labels.texts.get(ACTION_SAYS.get(name, ""), {})
        if says.get("en"):
            node.tooltip = f"{say('flow_says_example')} {says['en']}\n{says.get('he', '')}".strip()
    else:
        words = re.sub(r"^(action|validate)_", "", name).replace("_", " ").strip()
        if words:
            node.meta.append(say("flow_runs", words=words))
    return node


def _loop_node(value: Any, labels: Labels, say: Phrases) -> Node:
    if value is None:
        return Node("loop", "active_loop: null", tag=say("flow_tag_loop"), show_name=False,
                    meta=[say("flow_loop_ends")], code=["active_loop: null"])
    name = _clean(value)
    return Node("loop", name, tag=say("flow_tag_loop"), show_name=False,
                meta=[say("flow_loop_starts", form=labels.named("form", name, say.language))],
                code=[f"active_loop: {name}"])


def _step_nodes(step: Any, labels: Labels, say: Phrases, first: bool) -> List[Node]:
    if not isinstance(step, Mapping):
        return [Node("other", _clean(step), tag=say("flow_tag_other"))]
    if "intent" in step:
        return [_intent_node(_clean(step["intent"]), step, labels, say)]
    if "action" in step:
        return [_action_node(_clean(step["action"]), labels, say)]
    if "active_loop" in step:
        return [_loop_node(step["active_loop"], labels, say)]
    if "slot_was_set" in step:
        words, code = _slot_lines(step["slot_was_set"], labels, say)
        return [Node("slot", "slot_was_set", tag=say("flow_tag_slot"), show_name=False, meta=words, code=code)]
    if "or" in step:
        branches = [_step_nodes(option, labels, say, False) for option in step["or"] or []]
        return [Node("or", "or", tag=say("flow_tag_or"), branches=[b for b in branches if b])]
    if "checkpoint" in step:
        where = "flow_tag_checkpoint_from" if first else "flow_tag_checkpoint_at"
        return [Node("checkpoint", _clean(step["checkpoint"]), tag=say(where))]
    if "user" in step:
        return [Node("intent", _clean(step.get("intent", "user")), tag=say("flow_tag_intent"),
                     en=_clean(step["user"]))]
    if "bot" in step:
        return [Node("response", "bot", tag=say("flow_tag_response"), en=_clean(step["bot"]))]
    key = next(iter(step), "")
    return [Node("other", _clean(key), tag=say("flow_tag_other"), meta=[_clean(step[key])] if key else [])]


def _condition_nodes(conditions: Any, conversation_start: bool, labels: Labels, say: Phrases) -> List[Node]:
    lines: List[str] = []
    code: List[str] = []
    if conversation_start:
        lines.append(say("flow_at_start"))
        code.append("conversation_start: true")
    for item in conditions or []:
        if isinstance(item, Mapping) and "active_loop" in item:
            form = item["active_loop"]
            if form is None:
                lines.append(say("flow_no_form"))
                code.append("active_loop: null")
            else:
                lines.append(say("flow_while_form", form=labels.named("form", _clean(form), say.language)))
                code.append(f"active_loop: {_clean(form)}")
        elif isinstance(item, Mapping) and "slot_was_set" in item:
            words, written = _slot_lines(item["slot_was_set"], labels, say)
            lines += words
            code += written
        elif item is not None:
            lines.append(_clean(item))
    return [Node("condition", "condition", tag=say("flow_tag_condition"), show_name=False, meta=lines,
                 code=code)] if lines else []


def _flow(block: StoryBlock, labels: Labels, say: Phrases) -> Flow:
    entry = block.data
    steps = entry.get("steps")
    nodes = [n for i, step in enumerate(steps if isinstance(steps, list) else [])
             for n in _step_nodes(step, labels, say, i == 0)]
    start = bool(entry.get("conversation_start"))
    name = _clean(block.name) or f"{block.kind} {block.index + 1}"
    waits = entry.get("wait_for_user_input", True) is not False
    flow = Flow(
        name=name,
        kind=block.kind,
        file=block.path,
        line=block.line,
        steps=nodes,
        conditions=_condition_nodes(entry.get("condition"), start, labels, say),
        conversation_start=start,
        waits=waits,
        language=say.language,
        title=say(f"flow_title_{block.kind}", name=name),
        start=say("flow_start_conversation" if start else f"flow_start_{block.kind}"),
        end=say("flow_end_waits" if waits else "flow_end_goes_on"),
    )
    flow.form_names = {form: labels.named("form", form, say.language) for form in flow.forms}
    return flow


def _assign_slugs(flows: Sequence[Flow]) -> None:
    taken: Dict[str, int] = {}
    for index, flow in enumerate(flows, start=1):
        base = slugify(flow.name) or f"{flow.kind}-{index}"
        count = taken.get(base, 0) + 1
        taken[base] = count
        flow.slug = base if count == 1 else f"{base}-{count}"


def read_flows(project: Project, language: str = "en", phrases: Optional[TextCatalog] = None) -> Flows:
    """Every story and rule of a project, stories first, each file in name order, with their labels.

    Args:
        project: The project.
        language: The writer's console language: the tags, the conditions and memory steps in words,
            the start and end labels.
        phrases: The catalog of the chart's own words (the console's); by default Kesher's own
            (:func:`kesher_phrases`): they are Kesher's words, whatever project the chart draws.

    Returns:
        The flows, each with a unique slug.
    """
    labels = read_labels(project)
    say = Phrases(language if language in KESHER_LANGUAGES else "en", phrases or kesher_phrases())
    flows = [_flow(block, labels, say) for block in project.story_blocks]
    _assign_slugs(flows)
    return Flows(flows, labels)


def load_flows(root: Path, language: str = "en", phrases: Optional[TextCatalog] = None) -> Flows:
    """:func:`read_flows` of the project in ``root`` (read now: nothing is kept)."""
    return read_flows(Project(root), language, phrases)


# -- the overview ------------------------------------------------------------------------
@dataclass
class IntentRow:
    """An intent, an example of it in each language, and the flows it starts."""

    intent: str
    en: str
    he: str
    flows: List[Flow]


@dataclass
class Overview:
    """Which intents start which flows, and the flows grouped by file.

    Attributes:
        flows: Every flow.
        by_intent: One row per intent that starts a flow (domain order first).
        by_file: The flows of each file, in file order.
        unstarted: Flows that start with the bot (e.g. a form that completes).
        unused_intents: Domain intents no flow starts with.
    """

    flows: List[Flow]
    by_intent: List[IntentRow]
    by_file: List[Tuple[str, List[Flow]]]
    unstarted: List[Flow]
    unused_intents: List[str]

    @property
    def stories(self) -> int:
        """How many stories."""
        return sum(1 for f in self.flows if f.kind == "story")

    @property
    def rules(self) -> int:
        """How many rules."""
        return sum(1 for f in self.flows if f.kind == "rule")


def build_overview(flows: Flows) -> Overview:
    """Groups a project's flows by the intent that starts them and by file."""
    labels = flows.labels
    starts: Dict[str, List[Flow]] = {}
    unstarted: List[Flow] = []
    by_file: Dict[str, List[Flow]] = {}
    for flow in flows.flows:
        by_file.setdefault(flow.file, []).append(flow)
        intents = flow.start_intents
        if not intents:
            unstarted.append(flow)
        for intent in intents:
            starts.setdefault(intent, []).append(flow)
    order = {name: i for i, name in enumerate(labels.intents)}
    rows = [
        IntentRow(intent, labels.example(intent, "en"), labels.example(intent, "he"), started)
        for intent, started in sorted(starts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    ]
    unused = [name for name in labels.intents if name not in starts]
    return Overview(list(flows.flows), rows, list(by_file.items()), unstarted, unused)
