"""Two-stage fallback: not sure (and how to reach a person) first, a human offered the second time in a row."""

from __future__ import annotations

import re

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionFallback, consecutive_misses
from tests.helpers.texts import catalog
from tests.helpers.trackers import make_tracker, user_event


async def _run(backends, domain, text, events, language="en"):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text=text, intent="nlu_fallback", events=events, slots={"language": language})
    result = await ActionFallback(backends).run(dispatcher, tracker, domain)
    return dispatcher.messages, result


def test_only_the_latest_run_of_fallbacks_counts(domain):
    events = [user_event("hi", "greet"), user_event("blorp", "nlu_fallback"), user_event("ok", "affirm"),
              user_event("zzz", "nlu_fallback")]
    tracker = make_tracker(domain, text="qqq", intent="nlu_fallback", events=events)
    assert consecutive_misses(tracker) == 2


async def test_first_fallback_says_it_is_not_sure_and_how_to_reach_a_person(backends, domain):
    messages, events = await _run(backends, domain, "xkcd qwerty", [user_event("hi", "greet")])
    ways_to_ask = [variation.text for variation in catalog().entry("ask_rephrase").variations["en"]]
    assert messages[0]["text"] in ways_to_ask
    assert "not sure" in messages[0]["text"] and "*5550" in messages[0]["text"]
    assert events == []


async def test_first_fallback_in_hebrew_is_in_hebrew_without_slash_forms(backends, domain):
    messages, _ = await _run(backends, domain, "בלה בלה", [], language="he")
    text = messages[0]["text"]
    assert any("\u05d0" <= ch <= "\u05ea" for ch in text)
    assert "*5550" in text
    assert not re.search(r"[\u05d0-\u05ea]/[\u05d0-\u05ea]", text)


@pytest.mark.parametrize(("language", "question"), [
    ("en", "is there a discount for nurses?"),
    ("en", "do you have a discount for pensioners?"),
    ("he", "יש הנחה לאחיות?"),
])
async def test_a_question_no_article_answers_gets_no_unrelated_article(backends, domain, language, question):
    # The knowledge base's own bar would show the promo-code or the soldiers' discount article.
    messages, _ = await _run(backends, domain, question, [], language=language)
    assert len(messages) == 1
    assert "/help/" not in messages[0]["text"]
    assert "*5550" in messages[0]["text"]


async def test_a_question_the_nlu_missed_is_answered_from_the_knowledge_base(backends, domain):
    messages, _ = await _run(backends, domain, "my promo code doesn't work at checkout", [])
    assert "promo-code-problems" in messages[0]["text"]
    messages, _ = await _run(backends, domain, "הקוד קופון שלי לא עובד בקופה", [], language="he")
    assert "promo-code-problems" in messages[0]["text"]


async def test_second_fallback_in_a_row_offers_a_human(backends, domain):
    messages, events = await _run(backends, domain, "xkcd again", [user_event("blorp", "nlu_fallback")])
    assert "not sure" in messages[0]["text"] and "connect you" in messages[0]["text"]
    slots = {e["name"]: e["value"] for e in events}
    assert slots == {"human_offered": True, "human_offer_reason": "consecutive_fallbacks"}


async def test_unsure_after_one_of_our_actions_the_bot_waits_silently(backends, domain):
    events = [user_event("yes", "affirm"), {"event": "action", "name": "action_handoff"}]
    tracker = make_tracker(domain, events=events)
    dispatcher = CollectingDispatcher()
    result = await ActionFallback(backends).run(dispatcher, tracker, domain)
    assert dispatcher.messages == []
    assert result == [{"event": "followup", "timestamp": None, "name": "action_listen"}]
