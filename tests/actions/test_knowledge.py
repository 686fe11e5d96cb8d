"""Knowledge-base answers: title, snippet and link in the customer's language."""

from __future__ import annotations

from rasa_sdk.executor import CollectingDispatcher

from actions.knowledge import ActionAnswerFromKnowledgeBase
from tests.helpers.trackers import make_tracker


async def _ask(backends, domain, text: str, language: str):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text=text, intent="kb_question", slots={"language": language})
    events = await ActionAnswerFromKnowledgeBase(backends).run(dispatcher, tracker, domain)
    return dispatcher.messages, events


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
