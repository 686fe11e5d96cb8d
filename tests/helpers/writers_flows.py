"""For the flow chart tests: the real stories and rules read straight from YAML, and a small tricky project."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Dict, Iterator, List, Tuple

import yaml
from markupsafe import Markup, escape

from console.web import build_jinja, html_text, text_direction
from core.settings import PROJECT_ROOT
from tests.helpers.texts import catalog

ENTITY = re.compile(r"\[([^\]]+)\](?:\([^)]*\)|\{[^}]*\})")


def raw_flows(root: Path = PROJECT_ROOT) -> List[Tuple[str, Dict[str, Any]]]:
    """(kind, entry) of every story and rule, read straight from the YAML files."""
    out: List[Tuple[str, Dict[str, Any]]] = []
    for folder, key, kind in (("stories", "stories", "story"), ("rules", "rules", "rule")):
        for path in sorted((root / "data" / folder).rglob("*.yml")):
            document = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            out.extend((kind, entry) for entry in document.get(key) or [])
    return out


def hebrew_examples(root: Path = PROJECT_ROOT) -> Dict[str, List[str]]:
    """Intent (retrieval intents by their base) → its Hebrew examples as a customer types them."""
    examples: Dict[str, List[str]] = {}
    for path in sorted((root / "data" / "nlu" / "he").glob("*.yml")):
        for item in (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("nlu") or []:
            if "intent" not in item:
                continue
            intent = str(item["intent"]).split("/", 1)[0]
            lines = [line.strip()[2:] for line in str(item.get("examples", "")).splitlines() if line.strip()]
            examples.setdefault(intent, []).extend(" ".join(ENTITY.sub(r"\1", t).split()) for t in lines)
    return examples


def hebrew_responses(root: Path = PROJECT_ROOT) -> Dict[str, str]:
    """Response → its first Hebrew text (Markdown bold removed)."""
    texts: Dict[str, str] = {}
    for path in sorted((root / "domain").glob("*.yml")):
        responses = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("responses") or {}
        for name, variations in responses.items():
            for variation in variations:
                conditions = variation.get("condition") or []
                if any(c.get("name") == "language" and c.get("value") == "he" for c in conditions):
                    texts.setdefault(name, " ".join(variation["text"].replace("**", "").split()))
    return texts


def step_names(steps: List[Any]) -> Iterator[Tuple[str, str]]:
    """(``intent`` or ``action``, name) of each step, alternatives included."""
    for step in steps:
        if "intent" in step:
            yield "intent", str(step["intent"])
        elif "action" in step:
            yield "action", str(step["action"])
        elif "or" in step:
            yield from step_names(step["or"])


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
FIXTURE_TEXTS = """\
texts:
  ask_thing:
    en: "Which <thing>?"
    he: "איזה <דבר>?"
  handoff_requested:
    en: "Passing you to <a person> & co."
    he: "מעבירים אותך לנציג."
  flow_action_handoff:
    en: "Hands the conversation to <a person>"
    he: "מעביר את השיחה לנציג"
  flow_form_ask_form:
    en: "the <thing>"
    he: "ה<דבר>"
"""


def make_flow_project(root: Path) -> Path:
    """A project whose names and texts are full of markup, with a form, an ``or`` and a rule with a condition."""
    files = {
        "data/stories/fixture.yml": FIXTURE_STORY,
        "domain/core.yml": FIXTURE_DOMAIN,
        "data/nlu/en/nlu.yml": 'nlu:\n- intent: greet\n  examples: |\n    - hello <there> & you\n'
                               '- intent: thank\n  examples: |\n    - thanks a lot friend\n',
        "data/nlu/he/nlu.yml": 'nlu:\n- intent: greet\n  examples: |\n    - שלום <u>עולם</u> יפה\n',
        "data/texts/actions.yml": FIXTURE_TEXTS,
    }
    for relative, text in files.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def render_page(template: str, **values: Any) -> str:
    """A console page rendered as :func:`console.web.render` does, in English, for no one logged in."""
    texts = catalog()

    def t(key: str, /, **filled: Any) -> Markup:
        return html_text(texts, key, "en", **filled)

    def label(prefix: str, code: str) -> Markup:
        return t(f"{prefix}{code}") if f"{prefix}{code}" in texts else escape(code.replace("_", " "))

    return build_jinja().get_template(template).render(
        agent=None, csrf_token="", ui_lang="en", ui_dir=text_direction("en"), t=t, label=label, **values)
