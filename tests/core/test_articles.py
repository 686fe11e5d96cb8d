"""The knowledge base's files: both languages, same slugs, valid front matter."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.articles import ArticleError, load_articles, parse_article

ROOT = Path(__file__).resolve().parents[2]


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


def test_the_digest_changes_with_the_words_and_only_with_them(tmp_path):
    path = ROOT / "data/kb/en/gift-wrapping.md"
    original = parse_article(path, "en")
    assert original.key == "en/gift-wrapping"
    assert original.passages[:2] == [original.title, ", ".join(original.tags)]
    copy = tmp_path / "gift-wrapping.md"
    copy.write_text(path.read_text(encoding="utf-8") + "\n\n", encoding="utf-8")
    assert parse_article(copy, "en").digest == original.digest  # white space is not a new version
    copy.write_text(path.read_text(encoding="utf-8").replace("₪12", "₪15"), encoding="utf-8")
    assert parse_article(copy, "en").digest != original.digest
    assert parse_article(path, "he").digest != original.digest  # the same file read as another language
