"""The gate trains the project's pipeline without the components that change nothing it measures."""

from __future__ import annotations

from pathlib import Path

import yaml

from core.settings import PROJECT_ROOT
from writers.nlu_gate import gate_config


def test_the_gate_config_is_the_projects_without_the_article_check(tmp_path: Path):
    project = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    gate = yaml.safe_load(gate_config(PROJECT_ROOT / "config.yml", tmp_path / "gate" / "config.yml").read_text(
        encoding="utf-8"))
    names = [c["name"] for c in project["pipeline"]]
    assert "bot.components.article_coverage.ArticleCoverage" in names
    assert gate["pipeline"] == [c for c in project["pipeline"] if not c["name"].endswith("ArticleCoverage")]
    assert {k: v for k, v in gate.items() if k != "pipeline"} == {k: v for k, v in project.items() if k != "pipeline"}
