"""A small valid bilingual Rasa project for the writers' tools, and helpers to break it and read the findings."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import List

from writers.checks.base import MIN_EXAMPLES, MIN_RETRIEVAL_EXAMPLES, Finding, Options
from writers.content_check import main, run_checks
from writers.project import Project

HE_CONDITION = """\
    condition:
    - type: slot
      name: language
      value: he
"""

ACTION_TEXTS = """\
texts:
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
  wait:
    en: "About {minutes, plural, one {a minute} other {# minutes}}."
    he: "בערך {minutes, plural, one {דקה} two {שתי דקות} other {# דקות}}."
"""

# The flow charts' plain name of the slot the story sets (the content check warns without one).
FLOW_TEXTS = """\
texts:
  flow_slot_order_id:
    en: "the order number"
    he: "מספר ההזמנה"
"""

CANNED_TEXTS = """\
texts:
  canned_hi:
    he:
      title: "ברכה"
      text: "שלום, כאן {agent} משירות הלקוחות."
    en:
      title: "Greeting"
      text: "Hi, this is {agent} from customer service."
"""


def write(root: Path, relative: str, text: str) -> Path:
    """Writes a file of the project (dedented), making its folders."""
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def block(intent: str, examples: List[str]) -> str:
    """An ``- intent:`` block of an NLU file."""
    return f"- intent: {intent}\n  examples: |\n" + "".join(f"    - {e}\n" for e in examples)


def nlu(*blocks: str) -> str:
    """An NLU file of these blocks."""
    return 'version: "3.1"\nnlu:\n' + "\n".join(blocks)


def numbered(prefix: str, count: int) -> List[str]:
    """``count`` distinct examples: ``prefix 1`` ... ``prefix count``."""
    return [f"{prefix} {n}" for n in range(1, count + 1)]


def article(title: str, tags: str, url: str, body: str) -> str:
    """A help-centre article with its front matter."""
    return f"---\ntitle: {title}\ntags: {tags}\nurl: {url}\n---\n{body}\n"


ORDER_EN = ["where is order [123456](order_id)", *numbered("where is my order number", MIN_EXAMPLES - 1)]
ORDER_HE = ["איפה הזמנה [123456](order_id)", *numbered("איפה ההזמנה שלי מספר", MIN_EXAMPLES - 1)]


def make_project(root: Path) -> Path:
    """Writes a small valid bilingual project (passes `rasa data validate` and every check)."""
    write(root, "config.yml", """\
        recipe: default.v1
        assistant_id: fixture
        language: en
        pipeline: []
        policies: []
        """)
    write(root, "domain/core.yml", 'version: "3.1"\n' + """\
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
    write(root, "domain/faq.yml", 'version: "3.1"\nresponses:\n' + """\
  utter_faq/hours:
  - text: "We are open Sunday to Thursday, 9 to 5."
  - text: "אנחנו פתוחים בימים ראשון עד חמישי, 9 עד 5."
""" + HE_CONDITION + """\

  utter_faq/returns:
  - text: "You can return items within 30 days."
  - text: "אפשר להחזיר מוצרים תוך 30 יום."
""" + HE_CONDITION)
    write(root, "data/nlu/en/core.yml", nlu(
        block("greet", numbered("hello there", MIN_EXAMPLES)), block("order_status", ORDER_EN)))
    write(root, "data/nlu/he/core.yml", nlu(
        block("greet", numbered("שלום לכם", MIN_EXAMPLES)), block("order_status", ORDER_HE)))
    write(root, "data/nlu/en/faq.yml", nlu(
        block("faq/hours", numbered("when are you open", MIN_RETRIEVAL_EXAMPLES)),
        block("faq/returns", numbered("can I return it", MIN_RETRIEVAL_EXAMPLES))))
    write(root, "data/nlu/he/faq.yml", nlu(
        block("faq/hours", numbered("מתי אתם פתוחים", MIN_RETRIEVAL_EXAMPLES)),
        block("faq/returns", numbered("אפשר להחזיר", MIN_RETRIEVAL_EXAMPLES))))
    write(root, "data/rules/basics.yml", """\
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
    write(root, "data/stories/orders.yml", """\
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
    write(root, "data/texts/actions.yml", ACTION_TEXTS)
    write(root, "data/texts/canned.yml", CANNED_TEXTS)
    write(root, "data/texts/flows.yml", FLOW_TEXTS)
    write(root, "data/kb/en/gift-wrapping.md", article(
        "Gift wrapping", "[gift, wrapping]", "https://shop.example.com/help/gift-wrapping",
        "Add gift wrapping at checkout for 15 shekels per item."))
    write(root, "data/kb/he/gift-wrapping.md", article(
        "עטיפת מתנה", "[מתנה, עטיפה]", "https://shop.example.com/he/help/gift-wrapping",
        "אפשר להוסיף עטיפת מתנה בקופה ב-15 ש״ח לפריט."))
    return root


def line_of(path: Path, text: str, occurrence: int = 1) -> int:
    """1-based line of the n-th line containing ``text``."""
    hits = [n for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1) if text in line]
    assert len(hits) >= occurrence, f"{text!r} not in {path}"
    return hits[occurrence - 1]


def replace(path: Path, old: str, new: str, count: int = 1) -> None:
    """Replaces text in a file, failing if it is not there."""
    content = path.read_text(encoding="utf-8")
    assert old in content, f"{old!r} not in {path}"
    path.write_text(content.replace(old, new, count), encoding="utf-8")


def all_findings(root: Path, options: Options = Options()) -> List[Finding]:
    """Every finding of the checks but Rasa's."""
    return run_checks(Project(root), rasa=False, options=options)


def findings(root: Path, kind: str) -> List[Finding]:
    """The findings of one kind (Rasa's validation not run)."""
    return [f for f in all_findings(root) if f.kind == kind]


def only(root: Path, kind: str) -> Finding:
    """The one finding of a kind (fails when there are none or several)."""
    found = findings(root, kind)
    assert len(found) == 1, found
    return found[0]


def exit_status(root: Path) -> int:
    """What ``python -m kesher check-content --skip-rasa`` returns for the project (run in this process)."""
    return main(["--project", str(root), "--skip-rasa"])
