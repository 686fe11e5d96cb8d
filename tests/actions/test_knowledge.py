"""Knowledge-base answers: title, snippet and link in the customer's language."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, Optional

from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import ActionAnswerFromKnowledgeBase
from core.articles import parse_article
from core.settings import PROJECT_ROOT
from tests.helpers.trackers import make_tracker

DESCALING = "how do I descale my coffee machine?"


async def _ask(backends, domain, text: str, language: str, parse_data: Optional[Dict[str, Any]] = None):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text=text, intent="kb_question", slots={"language": language},
                           parse_data=parse_data)
    events = await ActionAnswerFromKnowledgeBase(backends).run(dispatcher, tracker, domain)
    return dispatcher.messages, events


def coverage(scores: Dict[str, float], language: str = "en", digest: Optional[str] = None) -> Dict[str, Any]:
    """The NLU's ``article_coverage`` for these articles (slug: coverage), as bot/components/article_coverage.py
    writes it."""
    def version(slug: str) -> str:
        return digest or parse_article(Path(PROJECT_ROOT / "data" / "kb" / language / f"{slug}.md"), language).digest

    return {"article_coverage": {"min_coverage": 0.62, "articles": {
        f"{language}/{slug}": [value, version(slug)] for slug, value in scores.items()}}}


async def test_an_english_question_gets_the_english_article(backends, domain):
    messages, events = await _ask(backends, domain, "how do I descale my coffee machine?", "en")
    assert "https://shop.example.com/help/descaling-coffee-machine" in messages[0]["text"]
    assert events == []


async def test_a_hebrew_question_gets_the_hebrew_article(backends, domain):
    messages, _ = await _ask(backends, domain, "איך מנקים אבנית מהקומקום?", "he")
    assert "https://shop.example.com/he/help/descaling-coffee-machine" in messages[0]["text"]
    assert "למידע נוסף" in messages[0]["text"]


async def test_nothing_relevant_says_so_and_offers_a_human(backends, domain):
    messages, events = await _ask(backends, domain, "what is the capital of france", "en")
    assert "couldn't find" in messages[0]["text"]
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]
    assert {"event": "slot", "timestamp": None, "name": "human_offered", "value": True} in events


async def test_an_article_that_does_not_cover_the_question_is_not_shown(backends, domain):
    # "… with vinegar from the kitchen?": the NLU found a word the descaling article does not have.
    text = "can I descale my coffee machine with the vinegar from my kitchen?"
    shown, _ = await _ask(backends, domain, text, "en", coverage({"descaling-coffee-machine": 0.9}))
    assert "/help/descaling-coffee-machine" in shown[0]["text"]
    messages, events = await _ask(backends, domain, text, "en", coverage({"descaling-coffee-machine": 0.5}))
    assert "/help/" not in messages[0]["text"] and "couldn't find" in messages[0]["text"]
    assert {"event": "slot", "timestamp": None, "name": "human_offered", "value": True} in events


async def test_an_article_edited_since_the_model_was_trained_is_not_judged(backends, domain):
    messages, _ = await _ask(backends, domain, DESCALING, "en",
                             coverage({"descaling-coffee-machine": 0.1}, digest="an-older-one"))
    assert "/help/descaling-coffee-machine" in messages[0]["text"]


async def test_runners_up_that_do_not_cover_the_question_are_not_listed(backends, domain):
    text = "my order arrived with a damaged item and one item missing"
    messages, _ = await _ask(backends, domain, text, "en")
    assert len(messages) == 2, "the best article and its runners-up"
    listed = [line for line in messages[1]["text"].splitlines() if "/help/" in line]
    best = messages[0]["text"]
    runner_up = listed[0].rsplit("/", 1)[-1]
    slug = next(s for s in ("damaged-item", "missing-item") if f"/help/{s}" in best)
    messages, _ = await _ask(backends, domain, text, "en", coverage({slug: 0.9, runner_up: 0.3}))
    assert f"/help/{slug}" in messages[0]["text"]
    assert all(f"/help/{runner_up}" not in m["text"] for m in messages)
