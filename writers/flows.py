"""The writers' flow charts: the project's stories and rules as bilingual SVG diagrams.

Everything is read from the project's own files each time (nothing is cached),
so a chart always shows what the data says now:

* ``data/stories/**/*.yml`` and ``data/rules/**/*.yml`` (Rasa 3.1 format) give the flows;
* ``domain/*.yml`` gives the responses (an English default variation and a Hebrew
  one conditioned on ``language: he``), the forms and their questions;
* ``data/nlu/<language>/*.yml`` gives one example sentence per intent and language;
* ``data/messages/*.yml`` gives what the custom actions say (shown as tooltips).

:func:`load_project` reads all of it, :func:`render_svg` draws one flow and
:func:`build_overview` says which intents start which flows and where they lead.
Every piece of text from the data is XML-escaped on the way into the SVG.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Sequence, Tuple
from xml.sax.saxutils import escape, quoteattr

import yaml

__all__ = [
    "LANGUAGES",
    "Catalog",
    "Flow",
    "IntentRow",
    "Node",
    "Overview",
    "Project",
    "build_overview",
    "load_catalog",
    "load_flows",
    "load_project",
    "parse_flows",
    "render_svg",
    "slugify",
    "text_width",
]

LANGUAGES = ("en", "he")
FLOW_KINDS = {"story": "stories", "rule": "rules"}

# What a custom action does, for writers: (English, Hebrew, data/messages key it says).
ACTION_NOTES: Dict[str, Tuple[str, str, str]] = {
    "action_order_task": (
        "Does the order task (status, late order, new address, cancellation or return) and tells the customer",
        "מבצע את הבקשה על ההזמנה (סטטוס, עיכוב, כתובת חדשה, ביטול או החזרה) ומעדכן את הלקוח",
        "order_status_shipped",
    ),
    "action_kb_answer": ("Answers from the help-centre articles", "עונה מתוך המאמרים של מרכז העזרה", "kb_answer"),
    "action_out_of_scope": (
        "Says the question is outside what the bot does (checks the help centre first)",
        "אומר שהשאלה מחוץ לתחום של הבוט (בודק קודם במרכז העזרה)",
        "out_of_scope",
    ),
    "action_fallback": (
        "Asks the customer to rephrase; the second time it offers a person",
        "מבקש מהלקוח לנסח מחדש; בפעם השנייה מציע נציג",
        "ask_rephrase",
    ),
    "action_handoff": ("Hands the conversation over to a person", "מעביר את השיחה לנציג אנושי", "handoff_requested"),
    "action_decline_human": (
        "The customer doesn't want a person: the bot carries on",
        "הלקוח לא רוצה נציג: הבוט ממשיך",
        "human_declined",
    ),
    "action_deactivate_loop": ("Stops the form that is running", "עוצר את הטופס הפעיל", ""),
    "action_listen": ("Waits for the customer", "ממתין ללקוח", ""),
    "action_restart": ("Starts the conversation over", "מתחיל את השיחה מחדש", ""),
    "action_session_start": ("Starts a new session", "מתחיל סשן חדש", ""),
    "action_default_fallback": ("Rasa's default fallback", "ברירת המחדל של Rasa כשלא הובן", ""),
    "action_two_stage_fallback": ("Asks the customer to confirm what they meant", "מבקש מהלקוח לאשר למה התכוון", ""),
}
BUILTIN_INTENTS: Dict[str, Tuple[str, str]] = {
    "nlu_fallback": ("(the message was not understood)", "(ההודעה לא הובנה)"),
    "restart": ("(the customer restarts the conversation)", "(הלקוח מתחיל את השיחה מחדש)"),
    "session_start": ("(a new session starts)", "(מתחיל סשן חדש)"),
}
_ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
_BOLD = re.compile(r"\*\*|__")


# -- the model ---------------------------------------------------------------------------
@dataclass
class Node:
    """One step of a flow (or one alternative of an ``or`` step).

    Attributes:
        kind: ``intent``, ``response``, ``action``, ``form``, ``loop``, ``slot``,
            ``condition``, ``checkpoint``, ``or``, ``other``.
        name: The intent, action, form, checkpoint name (or a short phrase).
        tag: A short caption for the kind ("customer says", "bot says", ...).
        en: The English label text (an example sentence, a response, a description).
        he: The Hebrew label text.
        meta: Lines that are the same in both languages (slot values, entities).
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
class Catalog:
    """What labels the nodes: examples, responses, forms and messages, per language.

    Attributes:
        examples: intent → language → example sentences (entity markup removed).
        responses: response name → language → its first text in that language.
        forms: form name → its required slots.
        messages: ``data/messages`` key → language → text.
        intents: The domain's intents, in the domain's order.
    """

    examples: Dict[str, Dict[str, List[str]]] = field(default_factory=dict)
    responses: Dict[str, Dict[str, str]] = field(default_factory=dict)
    forms: Dict[str, List[str]] = field(default_factory=dict)
    messages: Dict[str, Dict[str, str]] = field(default_factory=dict)
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

    def sub_intents(self, intent: str) -> List[str]:
        """The retrieval sub-intents of ``intent`` (``faq/...``)."""
        prefix = f"{intent}/"
        return [key for key in self.examples if key.startswith(prefix)]


@dataclass
class Project:
    """A project's flows and what labels them."""

    flows: List[Flow]
    catalog: Catalog

    def flow(self, slug: str) -> Optional[Flow]:
        """The flow with this slug, or None."""
        return next((f for f in self.flows if f.slug == slug), None)


# -- reading the project -----------------------------------------------------------------
def _clean(text: Any) -> str:
    """One line of plain text: control characters (invalid in XML) and Markdown bold removed."""
    text = _CONTROL.sub("", str(text))
    text = _BOLD.sub("", text)
    return " ".join(text.split())


def _read_yaml(path: Path) -> Any:
    with path.open(encoding="utf-8") as handle:
        return yaml.load(handle, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))


def _yaml_files(folder: Path) -> List[Path]:
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.rglob("*") if p.suffix in (".yml", ".yaml") and p.is_file())


def _examples(block: Any) -> List[str]:
    if isinstance(block, str):
        lines = [line.strip() for line in block.splitlines()]
        items = [line[2:] if line.startswith("- ") else line for line in lines if line]
    elif isinstance(block, list):
        items = [str(item.get("text", "")) if isinstance(item, dict) else str(item) for item in block]
    else:
        items = []
    return [t for t in (_clean(_ENTITY.sub(r"\1", item)) for item in items) if t]


def _message_text(value: Any) -> str:
    if isinstance(value, list):
        value = value[0] if value else ""
    if isinstance(value, dict):
        value = value.get("text", "")
    return _clean(value) if isinstance(value, str) else ""


def _variation_language(variation: Mapping[str, Any]) -> str:
    for condition in variation.get("condition") or []:
        if isinstance(condition, dict) and condition.get("name") == "language":
            return str(condition.get("value", ""))
    return "en"


def load_catalog(root: Path) -> Catalog:
    """Reads the labels of a project: NLU examples, domain responses and forms, messages.

    Args:
        root: The project folder (with ``data/`` and ``domain/``).

    Returns:
        The catalog (empty parts for files that are missing).
    """
    catalog = Catalog()
    for language in LANGUAGES:
        for path in _yaml_files(root / "data" / "nlu" / language):
            document = _read_yaml(path) or {}
            for item in document.get("nlu") or []:
                if isinstance(item, dict) and "intent" in item:
                    per_language = catalog.examples.setdefault(str(item["intent"]), {})
                    per_language.setdefault(language, []).extend(_examples(item.get("examples")))
    domain_files = _yaml_files(root / "domain")
    domain_file = root / "domain.yml"
    if domain_file.is_file():
        domain_files.append(domain_file)
    for path in domain_files:
        document = _read_yaml(path) or {}
        for intent in document.get("intents") or []:
            name = next(iter(intent)) if isinstance(intent, dict) else intent
            if str(name) not in catalog.intents:
                catalog.intents.append(str(name))
        for name, spec in (document.get("forms") or {}).items():
            slots = spec.get("required_slots") if isinstance(spec, dict) else None
            catalog.forms[str(name)] = [str(s) for s in slots or []] if isinstance(slots, list) else []
        for name, variations in (document.get("responses") or {}).items():
            texts: Dict[str, str] = {}
            for variation in variations or []:
                if not isinstance(variation, dict) or variation.get("channel"):
                    continue
                language = _variation_language(variation)
                text = _clean(variation.get("text") or "")
                if text and language not in texts:
                    texts[language] = text
            catalog.responses[str(name)] = texts
    for path in _yaml_files(root / "data" / "messages"):
        document = _read_yaml(path) or {}
        for key, value in (document.get("messages") or {}).items():
            if isinstance(value, dict):
                catalog.messages[str(key)] = {lang: _message_text(value.get(lang)) for lang in LANGUAGES}
    return catalog


def slugify(name: str) -> str:
    """A URL-safe slug of a flow's name: lowercase ASCII letters, digits and dashes.

    Args:
        name: The flow's name.

    Returns:
        The slug ("" when the name has no ASCII letter or digit).
    """
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:80].strip("-")


def _format_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return _clean(value)


def _slot_lines(items: Any) -> List[str]:
    lines: List[str] = []
    for item in items if isinstance(items, list) else [items]:
        if isinstance(item, dict):
            lines.extend(f"{_clean(k)} = {_format_value(v)}" for k, v in item.items())
        elif item is not None:
            lines.append(f"{_clean(item)} is set")
    return lines


def _intent_node(name: str, step: Mapping[str, Any], catalog: Catalog) -> Node:
    en, he = catalog.example(name, "en"), catalog.example(name, "he")
    node = Node("intent", name, tag="customer says", handoff="handoff" in name.lower())
    if en or he:
        node.en, node.he = (f"“{en}”" if en else ""), (f"\"{he}\"" if he else "")
    elif name in BUILTIN_INTENTS:
        node.en, node.he = BUILTIN_INTENTS[name]
    subs = catalog.sub_intents(name)
    if subs:
        node.meta.append(f"one of {len(subs)} sub-intents ({', '.join(s.split('/', 1)[1] for s in subs[:3])}, …)")
    entities = step.get("entities")
    if entities:
        names = [next(iter(e)) if isinstance(e, dict) else e for e in entities]
        node.meta.append("with " + ", ".join(_clean(n) for n in names))
    return node


def _response_node(name: str, catalog: Catalog) -> Node:
    node = Node("response", name, tag="bot says", handoff="handoff" in name.lower())
    texts = catalog.responses.get(name)
    if texts:
        node.en, node.he = texts.get("en", ""), texts.get("he", "")
        return node
    prefix = f"{name}/"
    variants = [key for key in catalog.responses if key.startswith(prefix)]
    if variants:
        first = catalog.responses[variants[0]]
        topic = variants[0].split("/", 1)[1].replace("_", " ")
        node.tag = "bot answers"
        node.meta.append(f"one of {len(variants)} answers, e.g. {topic}:")
        node.en, node.he = first.get("en", ""), first.get("he", "")
        node.tooltip = "Answers: " + ", ".join(v.split("/", 1)[1] for v in variants)
    return node


def _action_node(name: str, catalog: Catalog) -> Node:
    handoff = "handoff" in name.lower()
    if name in catalog.forms:
        slots = catalog.forms[name]
        node = Node("form", name, tag="form", handoff=handoff)
        node.meta.append(f"asks for: {', '.join(slots)}" if slots else "a form")
        if slots:
            first = catalog.messages.get(f"ask_{slots[0]}", {})
            first = first or catalog.responses.get(f"utter_ask_{slots[0]}", {})
            node.en, node.he = first.get("en", ""), first.get("he", "")
        return node
    if name.startswith("utter_"):
        return _response_node(name, catalog)
    node = Node("action", name, tag="handoff" if handoff else "custom action", handoff=handoff)
    if name in ACTION_NOTES:
        node.en, node.he, key = ACTION_NOTES[name]
        says = catalog.messages.get(key, {})
        if says.get("en"):
            node.tooltip = f"Says, e.g.: {says['en']}\n{says.get('he', '')}".strip()
    else:
        words = re.sub(r"^(action|validate)_", "", name).replace("_", " ").strip()
        node.en = f"Runs: {words}" if words else ""
    return node


def _loop_node(value: Any) -> Node:
    if value is None:
        return Node("loop", "form ends", tag="form state", en="The form is done (or stopped)", he="הטופס הסתיים")
    name = _clean(value)
    return Node("loop", f"{name} running", tag="form state", en=f"The form {name} asks its questions",
                he=f"הטופס {name} שואל את השאלות שלו")


def _step_nodes(step: Any, catalog: Catalog, first: bool) -> List[Node]:
    if not isinstance(step, dict):
        return [Node("other", _clean(step), tag="step")]
    if "intent" in step:
        return [_intent_node(_clean(step["intent"]), step, catalog)]
    if "action" in step:
        return [_action_node(_clean(step["action"]), catalog)]
    if "active_loop" in step:
        return [_loop_node(step["active_loop"])]
    if "slot_was_set" in step:
        return [Node("slot", "slot was set", tag="memory", meta=_slot_lines(step["slot_was_set"]))]
    if "or" in step:
        branches = [_step_nodes(option, catalog, False) for option in step["or"] or []]
        return [Node("or", "one of", tag="or", branches=[b for b in branches if b])]
    if "checkpoint" in step:
        where = "continues from" if first else "continues at"
        return [Node("checkpoint", _clean(step["checkpoint"]), tag=f"checkpoint · {where}")]
    if "user" in step:
        return [Node("intent", _clean(step.get("intent", "user text")), tag="customer says",
                     en=_clean(step["user"]))]
    if "bot" in step:
        return [Node("response", "bot text", tag="bot says", en=_clean(step["bot"]))]
    key = next(iter(step), "")
    return [Node("other", _clean(key), tag="step", meta=[_clean(step[key])] if key else [])]


def _condition_nodes(conditions: Any, conversation_start: bool) -> List[Node]:
    lines: List[str] = []
    if conversation_start:
        lines.append("at the start of a conversation")
    for item in conditions or []:
        if isinstance(item, dict) and "active_loop" in item:
            form = item["active_loop"]
            lines.append("no form is running" if form is None else f"form {_clean(form)} is running")
        elif isinstance(item, dict) and "slot_was_set" in item:
            lines.extend(_slot_lines(item["slot_was_set"]))
        elif item is not None:
            lines.append(_clean(item))
    return [Node("condition", "only when", tag="condition", meta=lines)] if lines else []


def _entry_lines(text: str, key: str) -> List[int]:
    """The 1-based line of each entry of the top-level ``key`` list (in document order)."""
    root = yaml.compose(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    if not isinstance(root, yaml.MappingNode):
        return []
    for k, v in root.value:
        if getattr(k, "value", None) == key and isinstance(v, yaml.SequenceNode):
            return [item.start_mark.line + 1 for item in v.value]
    return []


def parse_flows(text: str, file: str, catalog: Catalog) -> List[Flow]:
    """The stories and rules of one YAML file.

    Args:
        text: The file's content.
        file: Its path as shown to writers.
        catalog: What labels the nodes.

    Returns:
        Its flows (without slugs; :func:`load_flows` gives them).

    Raises:
        yaml.YAMLError: The text is not YAML.
    """
    document = yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)) or {}
    flows: List[Flow] = []
    if not isinstance(document, dict):
        return flows
    for kind, key in FLOW_KINDS.items():
        entries = document.get(key) or []
        lines = _entry_lines(text, key)
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):
                continue
            steps = entry.get("steps") or []
            nodes = [n for i, step in enumerate(steps) for n in _step_nodes(step, catalog, i == 0)]
            start = bool(entry.get("conversation_start"))
            flows.append(Flow(
                name=_clean(entry.get(kind, f"{kind} {index + 1}")),
                kind=kind,
                file=file,
                line=lines[index] if index < len(lines) else 0,
                steps=nodes,
                conditions=_condition_nodes(entry.get("condition"), start),
                conversation_start=start,
                waits=entry.get("wait_for_user_input", True) is not False,
            ))
    return flows


def _assign_slugs(flows: Sequence[Flow]) -> None:
    taken: Dict[str, int] = {}
    for index, flow in enumerate(flows, start=1):
        base = slugify(flow.name) or f"{flow.kind}-{index}"
        count = taken.get(base, 0) + 1
        taken[base] = count
        flow.slug = base if count == 1 else f"{base}-{count}"


def load_flows(root: Path, catalog: Optional[Catalog] = None) -> List[Flow]:
    """Every story and rule of a project, stories first, each file in name order.

    Args:
        root: The project folder.
        catalog: Labels (read from ``root`` when not given).

    Returns:
        The flows, each with a unique slug.
    """
    catalog = catalog if catalog is not None else load_catalog(root)
    flows: List[Flow] = []
    for folder in ("stories", "rules"):
        for path in _yaml_files(root / "data" / folder):
            flows.extend(parse_flows(path.read_text(encoding="utf-8"), path.relative_to(root).as_posix(), catalog))
    _assign_slugs(flows)
    return flows


def load_project(root: Path) -> Project:
    """Reads a project's flows and labels.

    Args:
        root: The project folder (with ``data/`` and ``domain/``).

    Returns:
        The project.
    """
    catalog = load_catalog(root)
    return Project(load_flows(root, catalog), catalog)


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


def build_overview(project: Project) -> Overview:
    """Groups a project's flows by the intent that starts them and by file.

    Args:
        project: The project.

    Returns:
        The overview.
    """
    catalog = project.catalog
    starts: Dict[str, List[Flow]] = {}
    unstarted: List[Flow] = []
    by_file: Dict[str, List[Flow]] = {}
    for flow in project.flows:
        by_file.setdefault(flow.file, []).append(flow)
        intents = flow.start_intents
        if not intents:
            unstarted.append(flow)
        for intent in intents:
            starts.setdefault(intent, []).append(flow)
    order = {name: i for i, name in enumerate(catalog.intents)}
    rows = [
        IntentRow(intent, catalog.example(intent, "en"), catalog.example(intent, "he"), flows)
        for intent, flows in sorted(starts.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0]))
    ]
    unused = [name for name in catalog.intents if name not in starts]
    return Overview(list(project.flows), rows, list(by_file.items()), unstarted, unused)


# -- drawing -----------------------------------------------------------------------------
FONT = 13.0
TAG_FONT = 10.5
LINE = 18.0
PAD = 12.0
NODE_W = 440.0
BRANCH_W = 270.0
GAP_X = 18.0
GAP_Y = 30.0
FORK_TOP = 36.0
FORK_BOTTOM = 20.0
TERMINAL_FONT = 12.0
MARGIN = 16.0
MAX_LINES = 3
_WIDE = {"m": 0.97, "w": 0.82, "M": 0.86, "W": 0.99, "@": 1.0, "%": 0.95, "—": 1.0, "₪": 0.8}
_NARROW = {"i": 0.28, "j": 0.28, "l": 0.28, "f": 0.35, "t": 0.39, "r": 0.41, "I": 0.29, "J": 0.29,
           " ": 0.32, ".": 0.32, ",": 0.32, ":": 0.34, ";": 0.34, "'": 0.27, "!": 0.4, "|": 0.34,
           "(": 0.39, ")": 0.39, "-": 0.36, "/": 0.34, "ו": 0.3, "ן": 0.3, "י": 0.25, "ג": 0.45,
           "ז": 0.39, "נ": 0.44}


def text_width(text: str, size: float = FONT, bold: bool = False) -> float:
    """Approximate rendered width of ``text`` (DejaVu Sans-like metrics; errs on the wide side).

    Args:
        text: The text.
        size: Font size in pixels.
        bold: Bold text is about 10% wider.
    """
    total = 0.0
    for char in text:
        if char in _WIDE:
            em = _WIDE[char]
        elif char in _NARROW:
            em = _NARROW[char]
        elif char.isupper():
            em = 0.72
        elif char.isdigit():
            em = 0.64
        elif "\u0590" <= char <= "\u05ff":
            em = 0.65
        else:
            em = 0.62
        total += em
    return total * size * (1.1 if bold else 1.0)


def _wrap(text: str, width: float, size: float = FONT, max_lines: int = MAX_LINES) -> List[str]:
    """Greedy word wrap to ``width`` pixels; a word longer than a line is cut; an ellipsis ends cut text."""
    lines: List[str] = []
    current = ""
    words = text.split()
    for word in words:
        candidate = f"{current} {word}" if current else word
        if text_width(candidate, size) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        while text_width(word, size) > width:
            cut = len(word)
            while cut > 1 and text_width(word[:cut], size) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
        current = word
    if current:
        lines.append(current)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        last = lines[-1]
        while last and text_width(last + " …", size) > width:
            last = last[:-1]
        lines[-1] = last.rstrip() + " …"
    return lines


def _attr(value: object) -> str:
    return quoteattr(_CONTROL.sub("", str(value)))


def _num(value: float) -> str:
    return f"{value:.1f}".rstrip("0").rstrip(".")


@dataclass
class _Box:
    """A node laid out: its lines and its size."""

    node: Node
    width: float
    name_lines: List[str]
    en_lines: List[str]
    he_lines: List[str]
    meta_lines: List[str]

    @property
    def height(self) -> float:
        count = len(self.name_lines) + len(self.meta_lines) + len(self.en_lines) + len(self.he_lines)
        return PAD * 2 + LINE * count + (4.0 if self.en_lines or self.he_lines else 0.0)


class _Drawing:
    """Collects the SVG elements of one flow while laying it out top to bottom."""

    def __init__(self, slug: str, languages: Sequence[str]) -> None:
        self.slug = slug or "flow"
        self.languages = tuple(languages)
        self.parts: List[str] = []
        self.count = 0

    # sizes ------------------------------------------------------------------------------
    def box(self, node: Node, width: float) -> _Box:
        inner = width - 2 * PAD - 4  # the widths are estimates: keep a little slack
        tag_room = text_width(node.tag.upper(), TAG_FONT) + 10 if node.tag else 0.0
        name_lines = _wrap(node.name, inner - tag_room, FONT * 1.05 * 1.1, max_lines=4)
        meta = [line for text in node.meta for line in _wrap(text, inner, FONT, max_lines=4)]
        en = _wrap(node.en, inner) if "en" in self.languages and node.en else []
        he = _wrap(node.he, inner) if "he" in self.languages and node.he else []
        return _Box(node, width, name_lines, en, he, meta)

    def seq_width(self, nodes: Sequence[Node], width: float) -> float:
        widest = width
        for node in nodes:
            if node.kind == "or" and node.branches:
                count = len(node.branches)
                branch = max(self.seq_width(b, BRANCH_W) for b in node.branches)
                widest = max(widest, count * branch + (count - 1) * GAP_X)
        return widest

    def seq_height(self, nodes: Sequence[Node], width: float) -> float:
        total = 0.0
        for i, node in enumerate(nodes):
            total += self.node_height(node, width) + (GAP_Y if i else 0.0)
        return total

    def node_height(self, node: Node, width: float) -> float:
        if node.kind == "or" and node.branches:
            return FORK_TOP + max(self.seq_height(b, BRANCH_W) for b in node.branches) + FORK_BOTTOM
        return self.box(node, width).height

    # drawing ----------------------------------------------------------------------------
    def edge(self, x: float, y1: float, y2: float, *, arrow: bool = True) -> None:
        marker = f' marker-end="url(#arrow-{self.slug})"' if arrow else ""
        end = y2 - 1 if arrow else y2
        self.parts.append(
            f'<line class="flow-edge" x1="{_num(x)}" y1="{_num(y1)}" x2="{_num(x)}" y2="{_num(end)}" '
            f'stroke="#8a94a6" stroke-width="1.5"{marker}/>'
        )

    def text(self, x: float, y: float, content: str, css: str, lang: str, *, rtl: bool = False,
             anchor: str = "start", bold: bool = False, size: float = FONT) -> None:
        extra = ' direction="rtl"' if rtl else ""
        extra += ' font-weight="bold"' if bold else ""
        extra += f' font-size="{_num(size)}"' if size != FONT else ""
        self.parts.append(
            f'<text class={_attr(css)} x="{_num(x)}" y="{_num(y)}" xml:lang="{lang}" lang="{lang}"'
            f'{extra} text-anchor="{anchor}">{escape(_CONTROL.sub("", content))}</text>'
        )

    def shape(self, kind: str, x: float, y: float, w: float, h: float) -> str:
        box = f'x="{_num(x)}" y="{_num(y)}" width="{_num(w)}" height="{_num(h)}"'
        paint = 'fill="#ffffff" stroke="#8a94a6" stroke-width="1.2"'
        if kind == "intent":
            return f'<rect class="flow-shape" {box} rx="16" {paint}/>'
        if kind == "loop":
            return f'<rect class="flow-shape" {box} rx="{_num(min(h / 2, 20))}" {paint}/>'
        if kind in ("slot", "checkpoint"):
            c = min(12.0, h / 2)
            points = [(x + c, y), (x + w - c, y), (x + w, y + h / 2), (x + w - c, y + h), (x + c, y + h),
                      (x, y + h / 2)]
            if kind == "checkpoint":
                points = [(x, y), (x + w - c, y), (x + w, y + h / 2), (x + w - c, y + h), (x, y + h)]
            coords = " ".join(f"{_num(px)},{_num(py)}" for px, py in points)
            return f'<polygon class="flow-shape" points="{coords}" {paint}/>'
        if kind == "form":
            back = f'x="{_num(x + 5)}" y="{_num(y + 5)}" width="{_num(w)}" height="{_num(h)}"'
            return (f'<rect class="flow-shape flow-shape-back" {back} rx="4" {paint}/>'
                    f'<rect class="flow-shape" {box} rx="4" {paint}/>')
        return f'<rect class="flow-shape" {box} rx="4" {paint}/>'

    def node(self, node: Node, cx: float, y: float, width: float) -> float:
        if node.kind == "or" and node.branches:
            return self.fork(node, cx, y)
        box = self.box(node, width)
        x, h = cx - width / 2, box.height
        self.count += 1
        classes = f"flow-node flow-{node.kind}" + (" flow-handoff" if node.handoff else "")
        self.parts.append(f'<g class="{classes}" id="{self.slug}-n{self.count}" data-kind="{node.kind}">')
        tip = node.tooltip or " / ".join(t for t in (node.en, node.he) if t)
        self.parts.append(f"<title>{escape(_CONTROL.sub('', f'{node.name}: {tip}' if tip else node.name))}</title>")
        self.parts.append(self.shape(node.kind, x, y, width, h))
        line_y = y + PAD + FONT
        if node.tag:
            tag = node.tag.upper()
            self.text(x + width - PAD, line_y - 1, tag, "flow-tag", "en", anchor="end", size=TAG_FONT)
        for line in box.name_lines:
            self.text(x + PAD, line_y, line, "flow-name", "en", bold=True, size=FONT * 1.05)
            line_y += LINE
        for line in box.meta_lines:
            self.text(x + PAD, line_y, line, "flow-meta", "en")
            line_y += LINE
        if box.en_lines or box.he_lines:
            line_y += 4
        for line in box.en_lines:
            self.text(x + PAD, line_y, line, "flow-en", "en")
            line_y += LINE
        for line in box.he_lines:
            # direction="rtl" makes "start" the right end: the line is anchored at the box's right padding
            self.text(x + width - PAD, line_y, line, "flow-he", "he", rtl=True)
            line_y += LINE
        self.parts.append("</g>")
        return y + h

    def seq(self, nodes: Sequence[Node], cx: float, y: float, width: float) -> float:
        for i, node in enumerate(nodes):
            if i:
                # an arrow into a fork would point at its bar: the bar carries the arrows on
                self.edge(cx, y, y + GAP_Y, arrow=node.kind != "or")
                y += GAP_Y
            y = self.node(node, cx, y, width)
        return y

    def fork(self, node: Node, cx: float, y: float) -> float:
        count = len(node.branches)
        branch_w = max(self.seq_width(b, BRANCH_W) for b in node.branches)
        total = count * branch_w + (count - 1) * GAP_X
        left = cx - total / 2
        centres = [left + branch_w / 2 + i * (branch_w + GAP_X) for i in range(count)]
        top, body = y + FORK_TOP, max(self.seq_height(b, BRANCH_W) for b in node.branches)
        bottom = top + body + FORK_BOTTOM
        bar = y + 12
        path = f"M{_num(cx)},{_num(y)} V{_num(bar)} M{_num(centres[0])},{_num(bar)} H{_num(centres[-1])}"
        self.parts.append(f'<g class="flow-fork" data-kind="or"><path class="flow-edge" d="{path}" fill="none" '
                          f'stroke="#8a94a6" stroke-width="1.5"/>')
        self.text(cx + 8, bar - 4, "one of", "flow-fork-label", "en", size=TERMINAL_FONT)
        ends: List[float] = []
        for centre, branch in zip(centres, node.branches, strict=True):
            self.parts.append(f'<line class="flow-edge" x1="{_num(centre)}" y1="{_num(bar)}" x2="{_num(centre)}" '
                              f'y2="{_num(top - 1)}" stroke="#8a94a6" stroke-width="1.5" '
                              f'marker-end="url(#arrow-{self.slug})"/>')
            ends.append(self.seq(branch, centre, top, branch_w))
        for centre, end in zip(centres, ends, strict=True):
            self.parts.append(f'<line class="flow-edge" x1="{_num(centre)}" y1="{_num(end)}" x2="{_num(centre)}" '
                              f'y2="{_num(bottom - 8)}" stroke="#8a94a6" stroke-width="1.5"/>')
        self.parts.append(f'<path class="flow-edge" d="M{_num(centres[0])},{_num(bottom - 8)} '
                          f'H{_num(centres[-1])} M{_num(cx)},{_num(bottom - 8)} V{_num(bottom)}" fill="none" '
                          f'stroke="#8a94a6" stroke-width="1.5"/></g>')
        return bottom


def render_svg(flow: Flow, languages: Iterable[str] = LANGUAGES) -> str:
    """Draws a flow as an SVG: a vertical chain of boxes with arrows, alternatives side by side.

    Each kind of step has its own shape and CSS class (``flow-intent``,
    ``flow-response``, ``flow-action``, ``flow-form``, ``flow-loop``,
    ``flow-slot``, ``flow-condition``, ``flow-checkpoint``; ``flow-handoff``
    on top for steps that hand over to a person). English lines are left-aligned;
    Hebrew lines carry ``direction="rtl"`` and are anchored at the box's right
    edge. Every ``<text>`` has ``xml:lang`` and ``lang``.

    Args:
        flow: The flow.
        languages: Which label languages to show (``en``, ``he`` or both).

    Returns:
        The SVG document (no XML declaration), ready to put inline in HTML.
    """
    chosen = [lang for lang in LANGUAGES if lang in set(languages)] or list(LANGUAGES)
    drawing = _Drawing(flow.slug, chosen)
    nodes = flow.conditions + flow.steps
    start_label = "conversation start" if flow.conversation_start else f"{flow.kind} starts"
    end_label = "then waits for the customer" if flow.waits else "goes on without waiting for the customer"
    # the start and end labels sit right of the centre line: the chart must be wide enough for them
    label_room = max(text_width(label, TERMINAL_FONT) for label in (start_label, end_label)) + 16 + MARGIN
    width = max(drawing.seq_width(nodes, NODE_W) + 2 * MARGIN, 2 * label_room)
    cx = width / 2
    y = MARGIN
    drawing.parts.append(f'<circle class="flow-start" cx="{_num(cx)}" cy="{_num(y + 7)}" r="7" fill="#1d2330"/>')
    drawing.text(cx + 14, y + 11, start_label, "flow-terminal", "en", size=TERMINAL_FONT)
    y += 14
    if nodes:
        drawing.edge(cx, y, y + GAP_Y - 8, arrow=nodes[0].kind != "or")
        y = drawing.seq(nodes, cx, y + GAP_Y - 8, NODE_W)
    drawing.edge(cx, y, y + GAP_Y - 8)
    y += GAP_Y - 8
    drawing.parts.append(f'<circle class="flow-end" cx="{_num(cx)}" cy="{_num(y + 8)}" r="8" fill="#ffffff" '
                         f'stroke="#1d2330" stroke-width="2"/>'
                         f'<circle class="flow-end-dot" cx="{_num(cx)}" cy="{_num(y + 8)}" r="4" fill="#1d2330"/>')
    drawing.text(cx + 16, y + 12, end_label, "flow-terminal", "en", size=TERMINAL_FONT)
    height = y + 16 + MARGIN
    title_id = f"title-{drawing.slug}"
    head = (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="flow-chart" width="{_num(width)}" '
        f'height="{_num(height)}" viewBox="0 0 {_num(width)} {_num(height)}" role="img" '
        f'aria-labelledby="{title_id}" font-family="DejaVu Sans, Noto Sans, Noto Sans Hebrew, Arial, sans-serif" '
        f'font-size="{_num(FONT)}" data-flow={_attr(flow.slug)}>'
        f'<title id="{title_id}">{escape(_CONTROL.sub("", f"{flow.kind}: {flow.name}"))}</title>'
        f'<defs><marker id="arrow-{drawing.slug}" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="8" '
        f'markerHeight="8" orient="auto-start-reverse"><path class="flow-arrow" d="M0,0 L10,5 L0,10 z" '
        f'fill="#8a94a6"/></marker></defs>'
    )
    return head + "".join(drawing.parts) + "</svg>"
