"""The domain files merged: every intent, entity, slot, form, action and response, with where it is defined."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Dict, Iterable, Iterator, List, Mapping, Optional, Set, Tuple

from core.language import LANGUAGES
from writers.project.lines import item_line, key_line
from writers.project.model import Loc

__all__ = ["SECTIONS", "Domain", "merge_domain", "response_language"]

SECTIONS = ("intents", "entities", "slots", "forms", "actions", "responses")


@dataclass
class Domain:
    """The domain files merged, with where each name is defined first.

    Attributes:
        files: The domain files, relative to the project.
        intents: Intent → where (in the domain's order).
        entities: Entity → where.
        slots: Slot → where.
        forms: Form → where.
        actions: Custom action → where.
        responses: Response → where.
        variations: Response → its variations as written (a list of ``text`` / ``condition`` mappings).
        form_slots: Form → the slots it asks for (``required_slots``).
        section_files: Section → the first file that has it.
    """

    files: List[str] = field(default_factory=list)
    intents: Dict[str, Loc] = field(default_factory=dict)
    entities: Dict[str, Loc] = field(default_factory=dict)
    slots: Dict[str, Loc] = field(default_factory=dict)
    forms: Dict[str, Loc] = field(default_factory=dict)
    actions: Dict[str, Loc] = field(default_factory=dict)
    responses: Dict[str, Loc] = field(default_factory=dict)
    variations: Dict[str, Any] = field(default_factory=dict)
    form_slots: Dict[str, List[str]] = field(default_factory=dict)
    section_files: Dict[str, str] = field(default_factory=dict)

    def file_for(self, section: str) -> str:
        """The domain file that has a section (``intents``, ``responses``...), to tell writers where."""
        return self.section_files.get(section) or (self.files[0] if self.files else "domain.yml")

    def file_for_response(self, name: str) -> str:
        """Where a new response belongs: beside its retrieval siblings (``utter_faq/...``), else with the others."""
        if "/" in name:
            base = name.split("/")[0] + "/"
            sibling = next((loc.path for response, loc in self.responses.items() if response.startswith(base)), None)
            if sibling is not None:
                return sibling
        return self.file_for("responses")

    def retrieval_bases(self) -> Set[str]:
        """Retrieval intents with answers in the domain (``faq`` for ``utter_faq/x``)."""
        return {name[len("utter_"):].split("/")[0] for name in self.responses if "/" in name}

    def texts(self, response: str) -> Dict[str, str]:
        """A response's first text in each language (variations for one channel only are left out)."""
        found: Dict[str, str] = {}
        variations = self.variations.get(response)
        for variation in variations if isinstance(variations, list) else []:
            if not isinstance(variation, Mapping) or variation.get("channel"):
                continue
            language, text = response_language(variation), variation.get("text")
            if language is not None and isinstance(text, str) and text.strip() and language not in found:
                found[language] = text
        return found


def response_language(variation: Mapping[str, Any]) -> Optional[str]:
    """``he``/``en`` for a response variation: its ``language`` slot condition, or English without one.

    Returns:
        None for a ``language`` condition naming a language Kesher does not speak.
    """
    for condition in variation.get("condition") or []:
        if isinstance(condition, Mapping) and condition.get("type") == "slot" and condition.get("name") == "language":
            value = condition.get("value")
            return str(value) if value in LANGUAGES else None
    return "en"


def _names(section: Any) -> Iterator[Tuple[str, int]]:
    """Names in a domain list (``- greet`` or ``- greet: {...}``) or mapping, with their lines."""
    if isinstance(section, Mapping):
        for name in section:
            yield str(name), key_line(section, name)
    elif isinstance(section, list):
        for index, item in enumerate(section):
            line = item_line(section, index)
            if isinstance(item, Mapping):
                for name in item:
                    yield str(name), line
            elif item is not None:
                yield str(item), line


def merge_domain(documents: Iterable[Tuple[str, Any]]) -> Domain:
    """Merges domain files; the first definition of a name wins.

    Args:
        documents: Each file's project-relative path and its data (as :func:`load_yaml` reads it).
    """
    domain = Domain()
    for rel, data in documents:
        if not isinstance(data, Mapping):
            continue
        domain.files.append(rel)
        for section in SECTIONS:
            if section not in data:
                continue
            domain.section_files.setdefault(section, rel)
            target: Dict[str, Loc] = getattr(domain, section)
            for name, line in _names(data[section]):
                target.setdefault(name, Loc(rel, line))
                if section == "responses":
                    domain.variations.setdefault(name, data[section][name])
        forms = data.get("forms")
        for name, spec in forms.items() if isinstance(forms, Mapping) else ():
            slots = spec.get("required_slots") if isinstance(spec, Mapping) else None
            domain.form_slots.setdefault(str(name), [str(s) for s in slots] if isinstance(slots, list) else [])
    return domain
