"""The content check's runner: every registered check on a project, the report, the exit status."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from tests.helpers.writers_project import all_findings, exit_status, line_of, make_project, replace
from writers.checks import CHECKS
from writers.checks.base import Check, Finding, Options
from writers.content_check import main, run_checks
from writers.project import Project


@pytest.fixture()
def project(tmp_path: Path) -> Path:
    return make_project(tmp_path / "bot")


def test_the_valid_fixture_has_no_findings(project: Path, capsys: pytest.CaptureFixture[str]):
    assert all_findings(project) == []
    assert exit_status(project) == 0
    assert capsys.readouterr().out.strip() == "content check: 0 errors, 0 warnings"


def test_the_real_project_passes_with_rasa(capsys: pytest.CaptureFixture[str]):
    status = main(["--project", str(PROJECT_ROOT)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.splitlines()[-1] == "content check: 0 errors, 0 warnings"


def test_every_registered_check_runs_once(project: Path):
    ran = []

    def spy(name: str) -> Check:
        def run(seen: Project, options: Options) -> list[Finding]:
            ran.append(name)
            return [Finding(name, "warning", "x.yml", 1, name)]
        return Check(name, run)

    names = [check.name for check in CHECKS]
    assert len(set(names)) == len(names) >= 11
    found = run_checks(Project(project), checks=[spy(name) for name in names])
    assert ran == names and [f.kind for f in found] == sorted(names)


def test_a_broken_domain_file_skips_the_checks_that_need_the_domain(project: Path):
    core = project / "domain/core.yml"
    replace(core, "- order_status\n", "- order_status: [\n")
    (project / "data/kb/he/gift-wrapping.md").unlink()
    found = all_findings(project)
    # Without the domain everything would look undefined: only the broken file (and what does not need it).
    assert [f.kind for f in found] == ["kb-article-unpaired", "yaml"]
    yaml_error = found[1]
    assert (yaml_error.severity, yaml_error.path) == ("error", "domain/core.yml")
    # The parser notices the unclosed "[" where the next entry starts: the line after it.
    assert yaml_error.line == line_of(core, "- order_status: [") + 1
    assert "not valid YAML" in yaml_error.message and "the domain were skipped" in yaml_error.message
    assert exit_status(project) == 1


def test_json_output(project: Path, capsys: pytest.CaptureFixture[str]):
    (project / "data/kb/he/gift-wrapping.md").unlink()
    assert main(["--project", str(project), "--skip-rasa", "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert data == [{"kind": "kb-article-unpaired", "severity": "error", "path": "data/kb/en/gift-wrapping.md",
                     "line": 1, "message": data[0]["message"]}]


def test_human_output_is_sorted_by_file_and_line(project: Path, capsys: pytest.CaptureFixture[str]):
    (project / "data/kb/he/gift-wrapping.md").unlink()
    replace(project / "domain/core.yml", '"הזמנה {order_id} בדרך אליך."', '"Order {order_id} is coming."')
    replace(project / "data/texts/actions.yml", '    he: "לא מצאתי את הזמנה {order_id}."\n', "")
    assert exit_status(project) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("data/kb/en/gift-wrapping.md:1: error [kb-article-unpaired] ")
    assert lines[1].startswith("data/texts/actions.yml:2: error [missing-language-variation] ")
    assert lines[2].startswith("domain/core.yml:")
    assert lines[-1] == "content check: 3 errors, 0 warnings"
