"""The knowledge base's files: both languages, same slugs, valid front matter."""

from __future__ import annotations

from pathlib import Path

import pytest

from actions.kb.articles import ArticleError, load_articles, parse_article

ROOT = Path(__file__).resolve().parents[3]


def test_every_article_exists_in_both_languages_with_front_matter():
    articles = load_articles(ROOT / "data/kb")
    he = {a.slug: a for a in articles["he"]}
    en = {a.slug: a for a in articles["en"]}
    assert len(en) >= 20 and he.keys() == en.keys()
    for slug in en:
        assert en[slug].url.endswith(f"/help/{slug}") and he[slug].url.endswith(f"/he/help/{slug}")
        assert en[slug].tags and he[slug].tags and en[slug].summary and he[slug].summary
        assert any("\u05d0" <= ch <= "\u05ea" for ch in he[slug].title)


def test_a_file_without_front_matter_is_named_in_the_error(tmp_path):
    broken = tmp_path / "broken.md"
    broken.write_text("# Just a heading\n\nNo front matter.", encoding="utf-8")
    with pytest.raises(ArticleError, match=r"broken\.md: no front matter"):
        parse_article(broken, "en")
    missing = tmp_path / "missing.md"
    missing.write_text("---\ntitle: A title\n---\nBody", encoding="utf-8")
    with pytest.raises(ArticleError, match="lacks tags, url"):
        parse_article(missing, "en")
