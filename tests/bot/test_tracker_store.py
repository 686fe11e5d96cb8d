"""Kesher's tracker store on a real redis-server: append-only saves, races between replicas, windowed reads
that give the policies exactly the states of the whole conversation, full reads, sessions, migration from
Rasa's own Redis format, expiry."""

from __future__ import annotations

import asyncio
import json
from typing import AsyncIterator, Callable, List, Sequence

import pytest
import pytest_asyncio
from rasa.core.tracker_store import RedisTrackerStore
from rasa.shared.core.constants import ACTION_LISTEN_NAME, ACTION_SESSION_START_NAME
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, BotUttered, Event, SessionStarted, SlotSet, UserUttered
from rasa.shared.core.generator import TrainingDataGenerator
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity, get_trackers_for_conversation_sessions
from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
from rasa.shared.core.training_data.structures import StoryGraph
from redis.asyncio import Redis

from bot.tracker_store import WindowedRedisTrackerStore, WindowedTracker
from core.redis_keys import TrackerKeys
from core.settings import PROJECT_ROOT
from tests.helpers.redis_server import RedisServer

PREFIX = "t"
KEYS = TrackerKeys(PREFIX)
DAY = 24 * 3600


@pytest.fixture(scope="module")
def rasa_domain() -> Domain:
    return Domain.load(str(PROJECT_ROOT / "domain"))


@pytest.fixture(scope="module")
def story_events(rasa_domain: Domain) -> List[List[Event]]:
    """The events of every story and conversation test (forms, slots, FAQs, fallbacks, handoffs)."""
    steps = []
    files = [PROJECT_ROOT / "data" / "stories" / "conversations.yml",
             *sorted((PROJECT_ROOT / "tests" / "conversations").glob("*.yml"))]
    for path in files:
        steps += YAMLStoryReader(rasa_domain).read_from_file(str(path))
    trackers = TrainingDataGenerator(StoryGraph(steps), rasa_domain, remove_duplicates=False, augmentation_factor=0,
                                     use_story_concatenation=False).generate_story_trackers()
    return [list(t.events) for t in trackers if not t.is_rule_tracker]


@pytest_asyncio.fixture()
async def store_factory(redis_client: Redis, redis_server: RedisServer,
                        rasa_domain: Domain) -> AsyncIterator[Callable[..., WindowedRedisTrackerStore]]:
    made: List[WindowedRedisTrackerStore] = []

    def make(window_turns: int = 2, record_exp: int = 30 * DAY) -> WindowedRedisTrackerStore:
        store = WindowedRedisTrackerStore(rasa_domain, host="127.0.0.1", port=redis_server.port, key_prefix=PREFIX,
                                          record_exp=record_exp, window_turns=window_turns)
        made.append(store)
        return store

    yield make
    for store in made:
        await store.close()


def _session_start() -> List[Event]:
    return [ActionExecuted(ACTION_SESSION_START_NAME), SessionStarted(), ActionExecuted(ACTION_LISTEN_NAME)]


def _turn(text: str, n: int) -> List[Event]:
    return [UserUttered(text, {"name": "greet", "confidence": 0.9}), SlotSet("language", "en"),
            ActionExecuted("utter_greet"), BotUttered(f"hello {n}"), ActionExecuted(ACTION_LISTEN_NAME)]


def _turns(events: Sequence[Event]) -> List[List[Event]]:
    """The events split after each ``action_listen``: what one save at the end of a turn adds."""
    out: List[List[Event]] = [[]]
    for event in events:
        out[-1].append(event)
        if isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME:
            out.append([])
    return [chunk for chunk in out if chunk]


async def _say(store: WindowedRedisTrackerStore, sender: str, events: Sequence[Event]) -> DialogueStateTracker:
    """What Rasa does in a turn: read the tracker (or start one), add the turn's events, save."""
    tracker = await store.retrieve(sender) or store.init_tracker(sender)
    for event in events:
        tracker.update(event)
    await store.save(tracker)
    return tracker


async def _stored(redis: Redis, sender: str) -> List[dict]:
    return [json.loads(raw) for raw in await redis.lrange(KEYS.events(sender), 0, -1)]


def _dicts(events: Sequence[Event]) -> List[dict]:
    return [e.as_dict() for e in events]


async def test_a_save_appends_only_the_turns_new_events(store_factory, redis_client: Redis) -> None:
    store = store_factory()
    everything: List[Event] = _session_start()
    await _say(store, "c1", everything)
    for n in range(30):
        turn = _turn(f"hi {n}", n)
        everything += turn
        await _say(store, "c1", turn)
    assert await _stored(redis_client, "c1") == _dicts(everything)
    # A stored event changed behind the store's back stays changed: saves never rewrite what is stored.
    await redis_client.lset(KEYS.events("c1"), 5, json.dumps({"event": "action", "name": "marker"}))
    await _say(store, "c1", _turn("one more", 99))
    stored = await _stored(redis_client, "c1")
    assert stored[5] == {"event": "action", "name": "marker"}
    assert len(stored) == len(everything) + 5


async def test_two_replicas_saving_at_once_never_lose_or_duplicate_an_event(store_factory, redis_client) -> None:
    first, second = store_factory(), store_factory()
    await _say(first, "c2", _session_start())
    expected: List[dict] = _dicts(_session_start())
    for round_ in range(25):
        a, b = await asyncio.gather(first.retrieve("c2"), second.retrieve("c2"))
        assert a is not None and b is not None
        mine, theirs = _turn(f"a{round_}", round_), _turn(f"b{round_}", round_)
        for event in mine:
            a.update(event)
        for event in theirs:
            b.update(event)
        await asyncio.gather(first.save(a), second.save(b))
        # One replica saves again after adding more (its earlier events must not be stored twice).
        extra = BotUttered(f"again {round_}")
        a.update(extra)
        await first.save(a)
        stored = await _stored(redis_client, "c2")
        added = stored[len(expected):]
        assert len(added) == len(mine) + len(theirs) + 1
        # Each save's events are together, in order: never interleaved.
        as_text = [json.dumps(e, sort_keys=True) for e in added]
        for batch in (_dicts(mine), _dicts(theirs)):
            keys = [json.dumps(e, sort_keys=True) for e in batch]
            at = as_text.index(keys[0])
            assert as_text[at:at + len(keys)] == keys
        assert added[-1] == extra.as_dict()
        expected = stored


async def test_a_windowed_read_gives_the_policies_the_states_of_the_whole_conversation(
        store_factory, rasa_domain: Domain, story_events, redis_client) -> None:
    """Every story and conversation test, one after the other in one long conversation with a new session in
    the middle; after each turn the window (1–2 customer messages, or back to a form's start) must give the
    states of the latest session's tracker, the same slots, active loop, latest message and action."""
    store = store_factory(window_turns=1)
    conversation: List[Event] = _session_start()
    for i, events in enumerate(story_events):
        conversation += events[1:]  # each story starts listening; the conversation already is
        if i == len(story_events) // 2:
            conversation += _session_start()
    saved: List[Event] = []
    variants = [dict(omit_unset_slots=False), dict(omit_unset_slots=True),
                dict(ignore_rule_only_turns=True, rule_only_data={"rule_only_slots": [],
                                                                  "rule_only_loops": ["order_form"]})]
    windows = 0
    read: List[int] = []
    for turn in _turns(conversation):
        await _say(store, "c3", turn)
        saved += turn
        full = get_trackers_for_conversation_sessions(
            DialogueStateTracker.from_events("c3", saved, rasa_domain.slots))[-1]
        window = await store.retrieve("c3")
        assert isinstance(window, WindowedTracker)
        windows += window.base is not None
        for variant in variants:
            expected = rasa_domain.states_for_tracker_history(full, **variant)  # type: ignore[arg-type]
            got = rasa_domain.states_for_tracker_history(window, **variant)  # type: ignore[arg-type]
            assert got == expected[len(expected) - len(got):], variant
            assert len(got) >= 3 or got == expected
            # The tracker's remembered states are the same, and a caller changing its copy changes nothing.
            remembered = window.past_states(rasa_domain, **variant)  # type: ignore[arg-type]
            assert remembered == got
            remembered.clear()
            assert window.past_states(rasa_domain, **variant) == got  # type: ignore[arg-type]
        added = ActionExecuted("utter_greet")  # a new event: the states are replayed again
        window.update(added)
        full.update(added)
        assert window.past_states(rasa_domain) == full.past_states(rasa_domain)[-len(window.past_states(rasa_domain)):]
        mine, theirs = window.current_state(), full.current_state()
        assert mine == theirs
        assert window.active_loop == full.active_loop
        assert window.is_paused() == full.is_paused()
        read.append(sum(isinstance(e, UserUttered) for e in window.events))
    assert windows > 20  # the window really moved, many times
    # 1–2 customer messages, more only while a form runs (a loop's start is always read)
    assert max(read) <= 6 and sorted(read)[len(read) // 2] <= 2
    assert await _stored(redis_client, "c3") == _dicts(conversation)


async def test_a_long_conversation_is_read_in_a_bounded_window_and_fully_on_request(store_factory) -> None:
    store = store_factory(window_turns=12)
    everything: List[Event] = _session_start()
    await _say(store, "c4", everything)
    sizes = []
    for n in range(200):
        turn = _turn(f"hi {n}", n)
        everything += turn
        tracker = await _say(store, "c4", turn)
        sizes.append(len(json.dumps(tracker.current_state(EventVerbosity.ALL))))
    window = await store.retrieve("c4")
    assert window is not None
    users = [e.text for e in window.events if isinstance(e, UserUttered)]
    assert 12 <= len(users) <= 16 and users[-1] == "hi 199"
    # What an action call would carry stays the same size however long the conversation grows.
    assert max(sizes[100:]) < 2.2 * sizes[30]
    full = await store.retrieve_full_tracker("c4")
    assert full is not None and _dicts(full.events) == _dicts(everything)
    assert window.current_slot_values() == full.current_slot_values()


async def test_a_returning_customer_is_read_from_the_latest_session_only(store_factory) -> None:
    store = store_factory()
    await _say(store, "c5", _session_start() + _turn("old question", 1) + [SlotSet("order_id", "123456")])
    await _say(store, "c5", _session_start() + _turn("new question", 2))
    latest = await store.retrieve("c5")
    assert latest is not None
    assert [e.text for e in latest.events if isinstance(e, UserUttered)] == ["new question"]
    assert isinstance(latest.events[0], ActionExecuted) and latest.events[0].action_name == ACTION_SESSION_START_NAME
    assert latest.get_slot("order_id") is None  # slots are the session's (Rasa carries some over itself)
    full = await store.retrieve_full_tracker("c5")
    assert full is not None
    assert [e.text for e in full.events if isinstance(e, UserUttered)] == ["old question", "new question"]
    assert set(await store.keys()) == {"c5"} and await store.exists("c5") and not await store.exists("nobody")


async def test_a_conversation_in_rasas_own_redis_format_keeps_working(
        store_factory, redis_server: RedisServer, rasa_domain: Domain, redis_client: Redis) -> None:
    rasa_store = RedisTrackerStore(rasa_domain, host="127.0.0.1", port=redis_server.port, key_prefix=PREFIX,
                                   record_exp=30 * DAY)
    old = DialogueStateTracker.from_events(
        "web:old", _session_start() + _turn("before the upgrade", 1) + [SlotSet("order_id", "654321")],
        rasa_domain.slots)
    await rasa_store.save(old)
    assert await redis_client.exists(KEYS.legacy("web:old"))
    store = store_factory()
    assert set(await store.keys()) == {"web:old"}
    tracker = await store.retrieve("web:old")
    assert tracker is not None and tracker.get_slot("order_id") == "654321"
    assert _dicts(tracker.events) == _dicts(old.events)
    assert not await redis_client.exists(KEYS.legacy("web:old"))  # moved, once
    await _say(store, "web:old", _turn("after the upgrade", 2))
    full = await store.retrieve_full_tracker("web:old")
    assert full is not None
    assert [e.text for e in full.events if isinstance(e, UserUttered)] == ["before the upgrade", "after the upgrade"]


async def test_a_conversation_expires_thirty_days_after_its_last_save(store_factory, redis_client: Redis) -> None:
    store = store_factory(window_turns=1)
    await _say(store, "c6", _session_start())
    for n in range(5):
        await _say(store, "c6", _turn(f"hi {n}", n))
    for key in (KEYS.events("c6"), KEYS.window("c6")):
        assert 30 * DAY - 60 < await redis_client.ttl(key) <= 30 * DAY
    await redis_client.expire(KEYS.events("c6"), 1)
    await redis_client.expire(KEYS.window("c6"), 1)
    await _say(store, "c6", _turn("later", 9))
    assert await redis_client.ttl(KEYS.events("c6")) > 30 * DAY - 60


async def test_a_tracker_replaced_through_the_api_is_merged_not_duplicated(store_factory, rasa_domain) -> None:
    """``PUT /conversations/<id>/tracker/events`` saves a tracker the store did not read (as Rasa's store does)."""
    store = store_factory()
    first = _session_start() + _turn("hello", 1)
    await _say(store, "c7", first)
    replaced = DialogueStateTracker.from_events("c7", first + [SlotSet("handoff_outcome", "resolved")],
                                                rasa_domain.slots)
    await store.save(replaced)
    full = await store.retrieve_full_tracker("c7")
    assert full is not None and _dicts(full.events) == _dicts(replaced.events)


def test_states_carried_on_event_by_event_are_rasas_own(rasa_domain: Domain, story_events) -> None:
    """After every event of every story and conversation test (forms folding their turns, reverts, slots),
    the states a policy gets are exactly those of Rasa's full replay, for each way the policies ask."""
    variants = [dict(omit_unset_slots=False), dict(omit_unset_slots=True),
                dict(ignore_rule_only_turns=True, rule_only_data={"rule_only_slots": ["human_offered"],
                                                                  "rule_only_loops": ["order_form"]})]
    compared = 0
    # As served, actions a rule predicted off the stories' paths are marked hidden: some of every kind here.
    hidden_too = [[ActionExecuted(e.action_name, e.policy, e.confidence, e.timestamp, hide_rule_turn=True)
                   if isinstance(e, ActionExecuted) and e.action_name != ACTION_LISTEN_NAME and i % 3 == 0 else e
                   for i, e in enumerate(events)] for events in story_events]
    for events in [*story_events, *hidden_too]:
        tracker = WindowedTracker("story", rasa_domain.slots)
        for event in events:
            tracker.update(event)
            reference = DialogueStateTracker.from_events("story", list(tracker.events), rasa_domain.slots)
            for variant in variants:
                expected = rasa_domain.states_for_tracker_history(reference, **variant)  # type: ignore[arg-type]
                assert tracker.past_states(rasa_domain, **variant) == expected, (variant, event)  # type: ignore[arg-type]
                compared += 1
    assert compared > 1000


def test_a_copy_is_the_tracker_rasas_replay_would_build_and_independent_of_it(rasa_domain: Domain,
                                                                            story_events) -> None:
    for events in story_events:
        tracker = WindowedTracker("story", rasa_domain.slots)
        for event in events:
            tracker.update(event)
            duplicate = tracker.copy()
            replayed = DialogueStateTracker.travel_back_in_time(tracker, float("inf"))
            assert duplicate.current_state(EventVerbosity.ALL) == replayed.current_state(EventVerbosity.ALL)
            assert duplicate.past_states(rasa_domain) == replayed.past_states(rasa_domain)
            assert (duplicate.is_paused(), duplicate.active_loop, duplicate.followup_action) == (
                replayed.is_paused(), replayed.active_loop, replayed.followup_action)
        before = tracker.current_state(EventVerbosity.ALL)
        duplicate = tracker.copy()
        duplicate.update(SlotSet("language", "he" if tracker.get_slot("language") != "he" else "en"))
        duplicate.update(ActionExecuted("utter_greet"))
        assert tracker.current_state(EventVerbosity.ALL) == before  # the original is untouched
