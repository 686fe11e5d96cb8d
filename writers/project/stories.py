"""Stories and rules: each entry with its place, and the names its steps use."""

from __future__ import annotations

from typing import Any, List, Mapping

from writers.project.lines import YamlMap, item_line
from writers.project.model import Loc, StepRef, StoryBlock

__all__ = ["FLOW_KEYS", "step_refs", "story_blocks"]

# The kind of entry under each top-level key of a story or rule file.
FLOW_KEYS = {"stories": "story", "rules": "rule"}


def story_blocks(data: Any, path: str, key: str) -> List[StoryBlock]:
    """The stories (``key="stories"``) or rules (``key="rules"``) of one document.

    Args:
        data: The document, as :func:`~writers.project.lines.load_yaml` reads it.
        path: Its path as shown to writers.
        key: ``stories`` or ``rules``.
    """
    kind = FLOW_KEYS[key]
    items = data.get(key) if isinstance(data, Mapping) else None
    blocks: List[StoryBlock] = []
    for index, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, YamlMap):
            name = item.get(kind)
            blocks.append(StoryBlock(kind, "" if name is None else str(name), index, path, item_line(items, index),
                                     item))
    return blocks


def step_refs(block: StoryBlock) -> List[StepRef]:
    """Every intent, action, form, slot and entity a story's or rule's condition and steps name."""
    name = block.name or f"#{block.index + 1}"
    refs: List[StepRef] = []
    for section in ("condition", "steps"):
        steps = block.data.get(section)
        if isinstance(steps, list):
            refs += _refs(block.kind, name, block.path, steps)
    return refs


def _refs(block: str, block_name: str, path: str, steps: List[Any]) -> List[StepRef]:
    refs: List[StepRef] = []
    for index, step in enumerate(steps):
        if not isinstance(step, Mapping):
            continue
        loc = Loc(path, item_line(steps, index))
        if step.get("intent"):
            refs.append(StepRef(block, block_name, "intent", str(step["intent"]), loc))
        if step.get("action"):
            refs.append(StepRef(block, block_name, "action", str(step["action"]), loc))
        if step.get("active_loop"):
            refs.append(StepRef(block, block_name, "form", str(step["active_loop"]), loc))
        for what, key in (("slot", "slot_was_set"), ("entity", "entities")):
            values = step.get(key)
            if not isinstance(values, list):
                continue
            for item_index, value in enumerate(values):
                item_loc = Loc(path, item_line(values, item_index, loc.line))
                if isinstance(value, Mapping):
                    names = [value["entity"]] if what == "entity" and "entity" in value else list(value)
                else:
                    names = [value]
                refs += [StepRef(block, block_name, what, str(n), item_loc) for n in names if n is not None]
        alternatives = step.get("or")
        if isinstance(alternatives, list):
            refs += _refs(block, block_name, path, alternatives)
    return refs
