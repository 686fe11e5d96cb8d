"""Two-stage fallback: not sure (and how to reach a person) first, a human offered the second time in a row."""

from __future__ import annotations

import re

import pytest
from rasa_sdk.executor import CollectingDispatcher

from actions.fallback import ActionFallback, consecutive_misses
from core.suggestions import SUGGESTION, make_suggestion
from tests.helpers.texts import catalog
from tests.helpers.trackers import make_tracker, user_event


async def _run(backends, domain, text, events, language="en", parse_data=None):
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text=text, intent="nlu_fallback", events=events, slots={"language": language},
                           parse_data=parse_data)
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


_DELIVERY = make_suggestion("faq/shipping_time", 0.83, {"en": "how long does delivery take?",
                                                        "he": "תוך כמה זמן מגיע משלוח?"})


@pytest.mark.parametrize(("language", "text"), [
    ("en", "how long does delivery take to a kibbutz on a holiday week?"),
    ("he", "תוך כמה זמן מגיע משלוח לקיבוץ בשבוע של חג?"),
])
async def test_a_question_near_an_faq_is_offered_that_question_as_a_button(backends, domain, language, text):
    messages, events = await _run(backends, domain, text, [], language=language, parse_data={SUGGESTION: _DELIVERY})
    assert len(messages) == 1
    question = _DELIVERY["questions"][language]
    assert messages[0]["buttons"] == [{"title": question, "payload": question}]
    assert messages[0]["text"] in [v.text for v in catalog().entry("ask_rephrase_suggest").variations[language]]
    assert "*5550" in messages[0]["text"]  # still the honest path: how to reach a person
    assert question not in messages[0]["text"]  # the button says it, once
    assert events == []


async def test_an_offer_without_the_customers_language_is_not_made(backends, domain):
    english_only = make_suggestion("faq/shipping_time", 0.9, {"en": "how long does delivery take?"})
    messages, _ = await _run(backends, domain, "כמה זמן לוקח משלוח לאילת בחג?", [], language="he",
                             parse_data={SUGGESTION: english_only})
    assert "buttons" not in messages[0] or not messages[0]["buttons"]
    assert messages[0]["text"] in [v.text for v in catalog().entry("ask_rephrase").variations["he"]]


async def test_an_article_that_fits_comes_before_an_offered_question(backends, domain):
    messages, _ = await _run(backends, domain, "my promo code doesn't work at checkout", [],
                             parse_data={SUGGESTION: _DELIVERY})
    assert "promo-code-problems" in messages[0]["text"]
    assert not messages[0].get("buttons")


async def test_the_second_miss_offers_a_person_not_another_question(backends, domain):
    messages, _ = await _run(backends, domain, "and to a moshav?", [user_event("blorp", "nlu_fallback")],
                             parse_data={SUGGESTION: _DELIVERY})
    assert "connect you" in messages[0]["text"]
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/affirm", "/deny"]


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
