"""``action-not-implemented``: a custom action of the domain needs a class the action server registers."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.writers_project import exit_status, findings, only, replace, write
from writers.checks.actions import read_actions
from writers.project import Project

ACTIONS = """\
    class Base(Action):
        kind = "check"

        def name(self) -> str:
            return f"action_{self.kind}"


    class ActionCheck(Base):
        pass


    class ActionOther(Action):
        def name(self) -> str:
            return "action_other"
    """


def test_domain_actions_need_a_class_in_actions(project: Path):
    replace(project / "domain/core.yml", "responses:\n", "actions:\n- action_check\n- action_missing\n\nresponses:\n")
    write(project, "actions/check.py", ACTIONS)
    finding = only(project, "action-not-implemented")
    assert finding.severity == "warning" and "`action_missing`" in finding.message
    assert "no class in actions/" in finding.message
    assert exit_status(project) == 0


def test_a_class_the_server_does_not_register(project: Path):
    replace(project / "domain/core.yml", "responses:\n", "actions:\n- action_check\n- action_other\n\nresponses:\n")
    write(project, "actions/check.py", ACTIONS)
    write(project, "actions/server.py", "ACTIONS = (ActionCheck,)\n")
    assert read_actions(Project(project)).names == {"action_check": ["Base", "ActionCheck"],
                                                    "action_other": ["ActionOther"]}
    finding = only(project, "action-not-implemented")
    assert "`ActionOther`, which is not in `ACTIONS` in actions/server.py" in finding.message
    write(project, "actions/server.py", "ACTIONS = (ActionCheck, ActionOther)\n")
    assert findings(project, "action-not-implemented") == []
