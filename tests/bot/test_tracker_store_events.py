"""The tracker store records each customer message's ``turn`` on the service-events stream, with its session."""

from __future__ import annotations

from typing import AsyncIterator, Callable, List, Sequence

import pytest_asyncio
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from redis.asyncio import Redis

from bot.tracker_store import WindowedRedisTrackerStore
from core.redis_keys import RedisKeys
from core.service_events import ServiceEvent, contact_id
from core.settings import PROJECT_ROOT
from tests.helpers.redis_server import RedisServer

# Not the default prefix: a handoff service the console tests run on the same redis-server has a mover of its own.
KEYS = RedisKeys("tracker-events-test:")
DAY = 24 * 3600


@pytest_asyncio.fixture()
async def make_store(redis_client: Redis,
                     redis_server: RedisServer) -> AsyncIterator[Callable[..., WindowedRedisTrackerStore]]:
    domain = Domain.load(str(PROJECT_ROOT / "domain"))
    made: List[WindowedRedisTrackerStore] = []

    def make(event_log: str = "1") -> WindowedRedisTrackerStore:
        store = WindowedRedisTrackerStore(domain, host="127.0.0.1", port=redis_server.port, key_prefix="t",
                                          record_exp=30 * DAY, window_turns=2, event_log=event_log)
        store.handoff_keys = KEYS
        made.append(store)
        return store

    yield make
    for store in made:
        await store.close()


def session_start(at: float) -> List[Event]:
    return [ActionExecuted(ACTION_SESSION_START_NAME, timestamp=at), SessionStarted(timestamp=at + 0.5),
            ActionExecuted(ACTION_LISTEN_NAME, timestamp=at + 0.5)]


def message(text: str, intent: str, *after: Event, confidence: float = 0.93, parse: dict | None = None) -> List[Event]:
    user = UserUttered(text, {"name": intent, "confidence": confidence}, parse_data=parse, input_channel="web")
    return [user, SlotSet("language", "he"), *after, BotUttered("..."), ActionExecuted(ACTION_LISTEN_NAME)]


async def say(store: WindowedRedisTrackerStore, sender: str, events: Sequence[Event]) -> None:
    tracker = await store.retrieve(sender) or store.init_tracker(sender)
    for event in events:
        tracker.update(event)
    await store.save(tracker)


async def recorded(redis: Redis) -> List[ServiceEvent]:
    return [ServiceEvent.from_fields(fields) for _, fields in await redis.xrange(KEYS.service_events())]


async def test_every_message_of_a_long_session_is_a_turn_of_the_same_contact(make_store, redis_client: Redis) -> None:
    store = make_store()
    first = 1_700_000_000.25
    await say(store, "web:s1", session_start(first) + message("hi", "greet", ActionExecuted("utter_greet")))
    for n in range(9):  # the window (2-3 messages) moves past the session's start several times
        await say(store, "web:s1", message(f"question {n}", "greet", ActionExecuted("utter_greet")))
    later = first + 7200
    await say(store, "web:s1", session_start(later) + message("back again", "greet", ActionExecuted("utter_greet")))

    turns = await recorded(redis_client)
    assert len(turns) == 11 and {t.kind for t in turns} == {"turn"}
    assert {t.contact for t in turns[:10]} == {contact_id("web:s1", first)}
    assert turns[10].contact == contact_id("web:s1", later)
    assert {(t.channel, t.language, t.intent, t.outcome) for t in turns} == {("web", "he", "greet", "answered")}
    assert turns[0].confidence == 0.93 and turns[0].text == ""
    # The desk takes a handoff's contact from here when the action's window no longer holds the start.
    assert await redis_client.get(KEYS.session_contact("web:s1")) == contact_id("web:s1", later)
    assert 0 < await redis_client.ttl(KEYS.session_contact("web:s1")) <= 30 * DAY


async def test_a_turn_says_how_the_bot_answered(make_store, redis_client: Redis) -> None:
    store = make_store()
    faq = {"response_selector": {"all_retrieval_intents": ["faq"], "faq": {
        "response": {"intent_response_key": "faq/shipping_cost", "confidence": 0.88}, "ranking": []}}}
    await say(store, "web:s2", session_start(1_700_000_000)
              + message("how much is delivery", "faq", ActionExecuted("utter_faq"), parse=faq))
    await say(store, "web:s2", message("zorp blarg", "nlu_fallback", ActionExecuted("action_fallback"),
                                       confidence=0.7))
    await say(store, "web:s2", message("my card 4111 1111 1111 1111, mail noa.cohen@example.com", "order_status",
                                       ActionExecuted("action_out_of_scope")))
    await say(store, "web:s2", message("a person please", "human_handoff", ActionExecuted("action_handoff"),
                                       SlotSet("handoff_requested", True)))
    faq_turn, fallback, out_of_scope, handoff = await recorded(redis_client)
    assert (faq_turn.outcome, faq_turn.topic, faq_turn.text) == ("answered", "faq/shipping_cost", "")
    # What the bot did not understand has no topic: first-contact resolution does not count it as one.
    assert (fallback.outcome, fallback.topic, fallback.text) == ("fell_back", "", "zorp blarg")
    assert out_of_scope.outcome == "fell_back"
    assert "4111 1111 1111 1111" not in out_of_scope.text and "noa.cohen@example.com" not in out_of_scope.text
    assert out_of_scope.text.startswith("my card") and "1111" in out_of_scope.text
    assert (handoff.outcome, handoff.intent, handoff.text) == ("handed_off", "human_handoff", "a person please")
    assert (out_of_scope.topic, handoff.topic) == ("order_status", "human_handoff")  # no FAQ answer: the intent
    assert all(t.value is not None and t.value >= 0 for t in (faq_turn, fallback, out_of_scope, handoff))


async def test_with_the_event_log_off_nothing_is_recorded(make_store, redis_client: Redis) -> None:
    store = make_store(event_log="off")
    await say(store, "web:s3", session_start(1_700_000_000) + message("hi", "greet"))
    assert await store.retrieve("web:s3") is not None  # the conversation is kept as always
    assert await redis_client.exists(KEYS.service_events(), KEYS.session_contact("web:s3")) == 0


async def test_small_talk_and_dialogue_moves_have_no_topic(make_store, redis_client: Redis) -> None:
    store = make_store()
    await say(store, "web:s4", session_start(1_700_000_000) + message("hello", "greet", ActionExecuted("utter_greet")))
    for text, intent in (("thanks", "thank"), ("yes", "affirm"), ("no", "deny"), ("bye", "goodbye"),
                         ("are you a bot", "bot_challenge"), ("4", "rate"), ("1234", "inform"),
                         ("what is the meaning of life", "out_of_scope")):
        await say(store, "web:s4", message(text, intent, ActionExecuted("utter_default")))
    await say(store, "web:s4", message("where is my order", "order_status", ActionExecuted("action_order_status")))
    *small_talk, order = await recorded(redis_client)
    assert [(t.intent, t.topic) for t in small_talk] == [(intent, "") for intent in (
        "greet", "thank", "affirm", "deny", "goodbye", "bot_challenge", "rate", "inform", "out_of_scope")]
    assert (order.intent, order.topic) == ("order_status", "order_status")
