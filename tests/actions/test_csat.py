"""Asking bot-only customers to rate the chat, and recording their one-tap answer on the event log."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Dict, List, Optional, Tuple

import pytest
from rasa_sdk.executor import CollectingDispatcher
from redis.asyncio import Redis

from actions.backends import Backends
from actions.csat import ActionAskCsat, ActionCsatAnswer, sampled
from core.redis_keys import RedisKeys
from core.service_events import ServiceEvent, contact_id
from handoff.event_log import EventLog
from tests.helpers.texts import catalog
from tests.helpers.trackers import make_tracker, user_event

SESSION_START = 1_790_000_000.0
ANSWERED = [
    {"event": "session_started", "timestamp": SESSION_START},
    user_event("do you take paypal?", "faq"),
    {"event": "action", "name": "utter_faq"},
    {"event": "bot", "text": "Yes, PayPal and all major cards."},
    {"event": "action", "name": "action_listen"},
]


@pytest.fixture()
def logged(backends: Backends, redis_client: Redis) -> Backends:
    """Backends that record on the real event log, asking every customer (the sample is tested below)."""
    return replace(backends, events=EventLog(redis_client, RedisKeys()), csat_bot_sample=1.0)


async def _events(redis: Redis) -> List[ServiceEvent]:
    return [ServiceEvent.from_fields(f) for _, f in await redis.xrange(RedisKeys().service_events())]


async def _ask(backends: Backends, domain: Dict[str, Any], history: List[Dict[str, Any]], language: str = "en",
               intent: str = "thank", **slots: Any) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    tracker = make_tracker(domain, text="thanks!", intent=intent, events=history,
                           slots={"language": language, **slots})
    result = await ActionAskCsat(backends).run(dispatcher, tracker, domain)
    return dispatcher.messages, result


async def _answer(backends: Backends, domain: Dict[str, Any], text: str, state: Optional[str],
                  rating: Optional[str] = None, language: str = "en",
                  ) -> Tuple[List[Dict[str, Any]], List[Dict[str, Any]]]:
    dispatcher = CollectingDispatcher()
    entities = [{"entity": "rating", "value": rating}] if rating else []
    tracker = make_tracker(domain, text=text, intent="rate", events=ANSWERED, entities=entities,
                           slots={"language": language, "bot_csat": state})
    result = await ActionCsatAnswer(backends).run(dispatcher, tracker, domain)
    return dispatcher.messages, result


@pytest.mark.parametrize("language", ["en", "he"])
async def test_an_answered_customer_who_says_thanks_gets_five_one_tap_ratings_in_their_language(
        logged: Backends, domain: Dict[str, Any], redis_client: Redis, language: str) -> None:
    messages, events = await _ask(logged, domain, ANSWERED, language=language)
    [question] = messages
    assert question["text"] == catalog().text("csat_bot_question", language)
    assert [b["payload"] for b in question["buttons"]] == [f'/rate{{"rating":"{n}"}}' for n in range(1, 6)]
    assert events == [{"event": "slot", "name": "bot_csat", "value": "asked", "timestamp": None}]
    [asked] = await _events(redis_client)
    assert (asked.kind, asked.reason, asked.language, asked.channel) == ("csat_asked", "bot", language,
                                                                        "kesher_callback")
    assert asked.conversation == "test-customer"
    assert asked.contact == contact_id("test-customer", SESSION_START)


async def test_the_hebrew_question_speaks_to_everyone_in_the_plural(logged: Backends) -> None:
    text = catalog().text("csat_bot_question", "he")
    assert "בחרו" in text and "/" not in text


@pytest.mark.parametrize(("why", "history", "slots"), [
    ("only hello and thanks", [{"event": "session_started", "timestamp": SESSION_START},
                               user_event("hi", "greet"), {"event": "action", "name": "utter_greet"}], {}),
    ("the bot did not understand the last message",
     [*ANSWERED, user_event("blorp", "nlu_fallback"), {"event": "action", "name": "action_fallback"}], {}),
    ("a person was asked for this session", ANSWERED, {"handoff_requested": True}),
    ("the agent's own question was answered", ANSWERED, {"handoff_csat": 4.0}),
    ("already asked this session", ANSWERED, {"bot_csat": "asked"}),
    ("already rated this session", ANSWERED, {"bot_csat": "done"}),
], ids=lambda v: v if isinstance(v, str) else "")
async def test_not_asked(logged: Backends, domain: Dict[str, Any], redis_client: Redis, why: str,
                         history: List[Dict[str, Any]], slots: Dict[str, Any]) -> None:
    messages, events = await _ask(logged, domain, history, **slots)
    assert messages == [] and events == []
    assert await _events(redis_client) == []


async def test_not_asked_outside_the_sample(logged: Backends, domain: Dict[str, Any], redis_client: Redis) -> None:
    messages, events = await _ask(replace(logged, csat_bot_sample=0.0), domain, ANSWERED)
    assert messages == [] and events == [] and await _events(redis_client) == []


def test_the_sample_is_the_configured_share_and_the_same_for_an_episode_every_time() -> None:
    contacts = [contact_id(f"web:customer-{n}", SESSION_START + n) for n in range(2000)]
    chosen = [c for c in contacts if sampled(c, 0.3)]
    assert 0.27 < len(chosen) / len(contacts) < 0.33
    assert chosen == [c for c in contacts if sampled(c, 0.3)]  # a retry decides the same
    assert set(chosen) <= {c for c in contacts if sampled(c, 0.5)}  # a larger share only adds episodes
    assert not any(sampled(c, 0.0) for c in contacts) and all(sampled(c, 1.0) for c in contacts)


@pytest.mark.parametrize("language", ["en", "he"])
async def test_a_tapped_rating_is_recorded_and_thanked(logged: Backends, domain: Dict[str, Any],
                                                       redis_client: Redis, language: str) -> None:
    messages, events = await _answer(logged, domain, '/rate{"rating":"4"}', "asked", rating="4", language=language)
    assert [m["text"] for m in messages] == [catalog().text("csat_bot_thanks", language)]
    assert events == [{"event": "slot", "name": "bot_csat", "value": "done", "timestamp": None}]
    [rated] = await _events(redis_client)
    assert (rated.kind, rated.value, rated.reason, rated.language) == ("csat", 4.0, "bot", language)
    assert rated.contact == contact_id("test-customer", SESSION_START)


@pytest.mark.parametrize(("text", "value"), [("I'd say 3 stars", 3.0), ("⭐⭐⭐⭐⭐", 5.0), ("2, לא משהו", 2.0)])
async def test_a_typed_rating_counts_too(logged: Backends, domain: Dict[str, Any], redis_client: Redis,
                                         text: str, value: float) -> None:
    await _answer(logged, domain, text, "asked")
    [rated] = await _events(redis_client)
    assert rated.value == value


async def test_a_rating_nobody_asked_for_goes_on_with_the_bot(logged: Backends, domain: Dict[str, Any],
                                                             redis_client: Redis) -> None:
    messages, events = await _answer(logged, domain, "5", None)
    assert [m.get("response") for m in messages] == ["utter_anything_else"]
    assert events == [] and await _events(redis_client) == []


async def test_a_second_tap_is_not_a_second_rating(logged: Backends, domain: Dict[str, Any],
                                                   redis_client: Redis) -> None:
    messages, events = await _answer(logged, domain, '/rate{"rating":"1"}', "done", rating="1")
    assert [m["text"] for m in messages] == [catalog().text("csat_bot_already", "en")]
    assert events == [] and await _events(redis_client) == []


async def test_without_an_event_log_the_customer_is_still_asked_and_thanked(backends: Backends,
                                                                            domain: Dict[str, Any]) -> None:
    messages, _ = await _ask(replace(backends, csat_bot_sample=1.0), domain, ANSWERED)
    assert len(messages) == 1
    messages, _ = await _answer(backends, domain, "4", "asked")
    assert [m["text"] for m in messages] == [catalog().text("csat_bot_thanks", "en")]
