"""``yaml``: a file that does not parse, or has a key twice, is reported at its line."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.writers_project import all_findings, exit_status, line_of, only, replace


def test_a_yaml_error_in_the_data_is_reported_with_the_other_findings(project: Path):
    rules = project / "data/rules/basics.yml"
    replace(rules, "  - action: utter_greet\n", "  - action: utter_greet\n   - oops: [\n")
    (project / "data/kb/he/gift-wrapping.md").unlink()
    found = all_findings(project)
    assert {f.kind for f in found} == {"yaml", "kb-article-unpaired"}
    yaml_error = next(f for f in found if f.kind == "yaml")
    assert (yaml_error.path, yaml_error.line) == ("data/rules/basics.yml", line_of(rules, "- oops: ["))
    assert "not valid YAML" in yaml_error.message


def test_a_key_written_twice(project: Path):
    core = project / "domain/core.yml"
    replace(core, "  utter_order_status:\n", "  utter_greet:\n  - text: \"Hi\"\n\n  utter_order_status:\n")
    finding = only(project, "yaml")
    assert (finding.severity, finding.path, finding.line) == ("error", "domain/core.yml",
                                                              line_of(core, "utter_greet:", 2))
    assert f"`utter_greet` is written twice here (first on line {line_of(core, 'utter_greet:')})" in finding.message
    assert exit_status(project) == 1


def test_a_text_catalog_file_that_does_not_parse(project: Path):
    texts = project / "data/texts/actions.yml"
    replace(texts, '    en: "I couldn\'t find order {order_id}."\n', '    en: "I couldn\'t find order {order_id}.\n')
    finding = only(project, "yaml")
    assert finding.path == "data/texts/actions.yml"
    assert [f.kind for f in all_findings(project)] == ["yaml"]  # the catalog's checks wait for a file Kesher can load
