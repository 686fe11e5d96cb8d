"""Help-centre articles: in both languages, with their front matter, the Hebrew one in Hebrew."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.writers_project import article, exit_status, findings, only, replace


def test_an_article_without_its_translation(project: Path):
    (project / "data/kb/he/gift-wrapping.md").unlink()
    finding = only(project, "kb-article-unpaired")
    assert (finding.severity, finding.path, finding.line) == ("error", "data/kb/en/gift-wrapping.md", 1)
    assert "`gift-wrapping` is in English only" in finding.message
    assert "add its Hebrew translation as data/kb/he/gift-wrapping.md" in finding.message
    assert exit_status(project) == 1


def test_front_matter_fields_are_checked(project: Path):
    path = project / "data/kb/he/gift-wrapping.md"
    replace(path, "url: https://shop.example.com/he/help/gift-wrapping", "url: shop.example.com/he")
    replace(path, "tags: [מתנה, עטיפה]", "tags: []")
    found = findings(project, "kb-front-matter")
    assert [(f.path, f.line) for f in found] == [("data/kb/he/gift-wrapping.md", 3), ("data/kb/he/gift-wrapping.md", 4)]
    assert "`gift-wrapping`" in found[0].message and "`tags:` must be a non-empty list" in found[0].message
    assert "`url:` must be the article's web address, starting with https://" in found[1].message
    assert exit_status(project) == 1


@pytest.mark.parametrize(
    ("content", "line", "words"),
    [
        ("Just text, no front matter.\n", 1, "no front matter"),
        ("---\ntitle: x\ntags: [a]\nurl: https://a.example/x\nbody without an end\n", 1, "not closed"),
        ("---\ntitle: x\ntags: [a\nurl: https://a.example/x\n---\nText.\n", 4, "not valid YAML"),
        ("---\ntitle: Gift wrapping\ntags: [gift]\nurl: https://a.example/x\n---\n\n", 6, "no text after"),
        ("---\ntags: [gift]\nurl: https://a.example/x\n---\nText.\n", 1, "`title:` is missing"),
    ],
)
def test_broken_front_matter(project: Path, content: str, line: int, words: str):
    (project / "data/kb/en/gift-wrapping.md").write_text(content, encoding="utf-8")
    finding = only(project, "kb-front-matter")
    assert (finding.path, finding.line) == ("data/kb/en/gift-wrapping.md", line)
    assert words in finding.message


def test_a_hebrew_article_must_be_in_hebrew(project: Path):
    (project / "data/kb/he/gift-wrapping.md").write_text(article(
        "Gift wrapping", "[gift]", "https://shop.example.com/he/help/gift-wrapping", "Wrapped for 15 shekels."),
        encoding="utf-8")
    finding = only(project, "missing-language-variation")
    assert (finding.severity, finding.path, finding.line) == ("error", "data/kb/he/gift-wrapping.md", 1)
    assert "`gift-wrapping` has no Hebrew text" in finding.message


def test_hebrew_in_an_english_title_is_a_warning(project: Path):
    replace(project / "data/kb/en/gift-wrapping.md", "title: Gift wrapping", "title: Gift wrapping עטיפה")
    finding = only(project, "missing-language-variation")
    assert (finding.severity, finding.path, finding.line) == ("warning", "data/kb/en/gift-wrapping.md", 2)
