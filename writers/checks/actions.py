"""``action-not-implemented``: each custom action the domain names has a class the action server registers.

The actions are read as source (``ast``), not imported: the writers' tools do
not run the actions' code, and the check works on any project folder.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

from rasa.shared.core.constants import DEFAULT_ACTION_NAMES

from writers.checks.base import WARNING, Finding, Options
from writers.project import Project

__all__ = ["ActionSources", "check_actions", "read_actions"]

# The action server's list of the action classes it registers (actions/server.py).
REGISTRY = "ACTIONS"


@dataclass
class ActionSources:
    """What the actions' source says.

    Attributes:
        names: Action name → the classes whose ``name()`` returns it (a base class and its subclasses).
        registered: The classes listed in ``ACTIONS`` (None when no module has that list).
        registry_file: The file that has ``ACTIONS``, relative to the project.
    """

    names: Dict[str, List[str]] = field(default_factory=dict)
    registered: Optional[Set[str]] = None
    registry_file: str = ""


def _base_names(cls: ast.ClassDef) -> List[str]:
    return [b.id if isinstance(b, ast.Name) else b.attr for b in cls.bases if isinstance(b, ast.Name | ast.Attribute)]


def _lineage(cls: ast.ClassDef, classes: Dict[str, ast.ClassDef]) -> Tuple[List[ast.ClassDef], Set[str]]:
    """The class and its bases defined in actions/, and the names of the bases defined elsewhere."""
    order: List[ast.ClassDef] = []
    external: Set[str] = set()
    todo = [cls]
    while todo:
        current = todo.pop(0)
        if current in order:
            continue
        order.append(current)
        for base in _base_names(current):
            if base in classes:
                todo.append(classes[base])
            else:
                external.add(base)
    return order, external


def _attribute(order: List[ast.ClassDef], name: str) -> Optional[str]:
    for cls in order:
        for statement in cls.body:
            targets = statement.targets if isinstance(statement, ast.Assign) else (
                [statement.target] if isinstance(statement, ast.AnnAssign) else [])
            value = getattr(statement, "value", None)
            if any(isinstance(t, ast.Name) and t.id == name for t in targets) and isinstance(value, ast.Constant):
                return str(value.value)
    return None


def _evaluate(node: Optional[ast.expr], order: List[ast.ClassDef]) -> Optional[str]:
    """A ``name()``'s return value: a string, or an f-string of ``self.<class attribute>``."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        parts = []
        for value in node.values:
            if isinstance(value, ast.FormattedValue):
                inner = value.value
                resolved = (_attribute(order, inner.attr) if isinstance(inner, ast.Attribute)
                            and isinstance(inner.value, ast.Name) and inner.value.id == "self" else None)
                if resolved is None:
                    return None
                parts.append(resolved)
            else:
                parts.append(_evaluate(value, order) or "")
        return "".join(parts)
    return None


def _registered(tree: ast.Module) -> Optional[Set[str]]:
    """The class names of a module-level ``ACTIONS = (...)`` list, if the module has one."""
    for statement in tree.body:
        target = statement.target if isinstance(statement, ast.AnnAssign) else (
            statement.targets[0] if isinstance(statement, ast.Assign) and len(statement.targets) == 1 else None)
        value = getattr(statement, "value", None)
        if isinstance(target, ast.Name) and target.id == REGISTRY and isinstance(value, ast.Tuple | ast.List):
            return {e.id if isinstance(e, ast.Name) else e.attr for e in value.elts
                    if isinstance(e, ast.Name | ast.Attribute)}
    return None


def read_actions(project: Project) -> ActionSources:
    """Reads the action classes, the names their ``name()`` returns, and the registry, from the source."""
    classes: Dict[str, ast.ClassDef] = {}
    sources = ActionSources()
    for source in sorted(project.actions_path.rglob("*.py")):
        try:
            tree = ast.parse(source.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        listed = _registered(tree)
        if listed is not None and sources.registered is None:
            sources.registered, sources.registry_file = listed, project.rel(source)
        for node in ast.walk(tree):
            if isinstance(node, ast.ClassDef):
                classes.setdefault(node.name, node)
    for cls in classes.values():
        order, external = _lineage(cls, classes)
        method = next((s for c in order for s in c.body if isinstance(s, ast.FunctionDef) and s.name == "name"), None)
        if method is None:
            if "ValidationAction" in external:  # rasa_sdk's default for the slot-mapping validator
                sources.names.setdefault("action_validate_slot_mappings", []).append(cls.name)
            continue
        returns = [n for n in ast.walk(method) if isinstance(n, ast.Return)]
        if returns and (name := _evaluate(returns[0].value, order)):
            sources.names.setdefault(name, []).append(cls.name)
    return sources


def check_actions(project: Project, options: Options) -> List[Finding]:
    """``action-not-implemented`` (warning): each custom action in the domain has a registered class in actions/."""
    if not project.actions_path.is_dir():
        return []
    sources = read_actions(project)
    folder = project.rel(project.actions_path)
    findings: List[Finding] = []
    for name, loc in project.domain.actions.items():
        if name.startswith("utter_") or name in DEFAULT_ACTION_NAMES:
            continue
        classes = sources.names.get(name, [])
        if classes and (sources.registered is None or sources.registered & set(classes)):
            continue
        if not classes:
            message = (f"the action `{name}` is in the domain but no class in {folder}/ has `name()` returning it; "
                       "the bot fails when it runs it: ask a developer to implement it or remove it")
        else:
            listed = " or ".join(f"`{c}`" for c in classes)
            message = (f"the action `{name}` is implemented by {listed}, which is not in `{REGISTRY}` in "
                       f"{sources.registry_file}, so the action server does not run it and the bot fails when it "
                       f"needs it: ask a developer to add it there")
        findings.append(Finding("action-not-implemented", WARNING, loc.path, loc.line, message))
    return findings
