"""Ranking quality of the knowledge base on questions written by customers' standards.

tests/fixtures/kb_questions.yml holds 3 questions per article and language,
worded without the article's title, and 12 unrelated questions per language.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from actions.kb.search import InMemoryKnowledgeBase, analyze
from core.articles import load_articles
from tests.helpers.backends import shared_kb

ROOT = Path(__file__).resolve().parents[3]
QUESTIONS = yaml.safe_load((ROOT / "tests/fixtures/kb_questions.yml").read_text(encoding="utf-8"))


@pytest.mark.parametrize("language", ["en", "he"])
async def test_most_questions_get_the_right_article_and_unrelated_ones_get_none(language):
    kb = shared_kb()
    right = wrong = unanswered = 0
    for slug, by_language in QUESTIONS["questions"].items():
        for question in by_language[language]:
            hits = await kb.search(question, language)
            if not hits:
                unanswered += 1
            elif hits[0].article.slug == slug:
                right += 1
            else:
                wrong += 1
    total = right + wrong + unanswered
    answered_unrelated = [q for q in QUESTIONS["unrelated"][language] if await kb.search(q, language)]
    print(f"{language}: right {right}/{total}, wrong {wrong}, unanswered {unanswered}, "
          f"unrelated answered {len(answered_unrelated)}/{len(QUESTIONS['unrelated'][language])}")
    # Measured when the threshold was chosen: en 61/72 right, he 61/72, no unrelated answered.
    assert right / total >= 0.78
    assert len(answered_unrelated) <= 1


async def test_every_article_is_found_by_its_own_title():
    kb = shared_kb()
    for language, articles in load_articles(ROOT / "data/kb").items():
        for article in articles:
            hits = await kb.search(article.title, language)
            assert hits and hits[0].article.slug == article.slug, (language, article.slug)


async def test_snippets_are_short_plain_text():
    hits = await shared_kb().search("how do I track my package", "en")
    assert hits
    for hit in hits:
        assert len(hit.snippet) <= 241
        assert "**" not in hit.snippet and "](" not in hit.snippet


def test_hebrew_words_match_without_prefixes_and_plural_endings():
    (forms,) = analyze("והמשלוחים", "he")
    assert "משלוח" in forms
    (forms,) = analyze("refunds", "en")
    assert "refund" in forms


async def test_an_empty_knowledge_base_answers_nothing():
    kb = InMemoryKnowledgeBase(articles={"en": [], "he": []})
    assert await kb.search("anything at all", "en") == []
    assert await kb.search("   ", "he") == []
