"""Unanswered questions: which messages count, masking, grouping, reading Rasa's tracker keys in Redis;
bounded work, linear patterns, kept off the event loop."""

from __future__ import annotations

import json
import threading
from typing import Any, Dict, List, Optional

import pytest
import yaml
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import ActionExecuted, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker
from redis.asyncio import Redis

from bot.tracker_store import WindowedRedisTrackerStore
from core.settings import PROJECT_ROOT, Settings
from core.suggestions import SUGGESTION, make_suggestion
from tests.helpers.redis_server import RedisServer
from writers import unanswered as unanswered_module
from writers.unanswered import (
    MAX_TRACKER_BYTES,
    QuestionGroup,
    collect,
    group,
    mask_personal,
    questions_in,
    read_trackers,
    unanswered,
)


def _user(text: str, intent: str, confidence: float = 0.95, at: float = 1_700_000_000.0) -> Dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": at,
            "parse_data": {"intent": {"name": intent, "confidence": confidence}}}


def _action(name: str) -> Dict[str, Any]:
    return {"event": "action", "name": name}


def _tracker(sender: str, events: List[Dict[str, Any]]) -> str:
    return json.dumps({"sender_id": sender, "events": [{"event": "action", "name": "action_session_start"}, *events]})


def test_only_messages_the_bot_could_not_answer_count() -> None:
    events = [
        _user("hello", "greet"), _action("utter_greet"),
        _user("where is my parcel", "order_status", 0.97), _action("order_form"),
        _user("blorp zzz", "nlu_fallback", 0.31), _action("action_fallback"),
        _user("what's the weather in haifa", "out_of_scope", 0.9), _action("action_out_of_scope"),
        _user("can I pay with bitcoin", "faq", 0.45), _action("utter_faq"),
        _user("my kettle leaks and nobody helps", "complaint", 0.92), _action("action_complaint"),
        _user("I want a person", "human_handoff", 0.99), _action("action_handoff"),
        _user("/order_status", "order_status", 1.0), _action("order_form"),
    ]
    found = {(q.text, q.reason) for q in questions_in(events, "web:1")}
    assert found == {
        ("blorp zzz", "fallback"),
        ("what's the weather in haifa", "out_of_scope"),
        ("can I pay with bitcoin", "low_confidence"),
        ("my kettle leaks and nobody helps", "handoff"),  # what led to the request for a person
    }


def test_personal_data_is_masked_in_both_languages() -> None:
    text = ("I'm noa.cohen@example.com, phone 050-1234567, order 104233, card 4580 1234 5678 9012, "
            "id 123456782")
    masked = mask_personal(text, "en")
    for secret in ("noa.cohen", "example.com", "1234567", "104233", "9012 ", "123456782"):
        assert secret not in masked
    assert "•••@•••" in masked and masked.startswith("I'm ")
    hebrew = mask_personal("ההזמנה 104233 לא הגיעה, הטלפון שלי ‎+972 54 765 4321", "he")
    assert "104233" not in hebrew and "765 4321" not in hebrew and hebrew.startswith("ההזמנה")


def test_similar_questions_are_grouped_per_language_most_asked_first() -> None:
    events = [
        _user("do you sell tickets to eurovision?", "out_of_scope", at=10),
        _user("do you sell eurovision tickets", "out_of_scope", at=20),
        _user("Do you sell tickets for Eurovision??", "nlu_fallback", at=30),
        _user("אתם מוכרים כרטיסים לאירוויזיון?", "out_of_scope", at=40),
        _user("can I pay with bitcoin", "nlu_fallback", at=50),
    ]
    groups = group(questions_in(events, "web:1"))
    assert [(g.language, g.count) for g in groups] == [("en", 3), ("en", 1), ("he", 1)]
    eurovision = groups[0]
    assert eurovision.text == "Do you sell tickets for Eurovision??"  # the latest wording
    assert eurovision.reasons == {"out_of_scope": 2, "fallback": 1}
    assert eurovision.last_seen.timestamp() == 30


async def test_questions_are_read_from_rasa_tracker_keys_only(redis_client: Redis) -> None:
    prefix = Settings().tracker_key_prefix
    await redis_client.set(f"{prefix}:tracker:web:a", _tracker("web:a", [_user("blorp", "nlu_fallback", 0.2)]))
    await redis_client.set(f"{prefix}:tracker:whatsapp:+972501234567",
                           _tracker("whatsapp:+972501234567", [_user("מה מזג האוויר?", "out_of_scope")]))
    await redis_client.set(f"{prefix}:ho:conv:web:a", "not a tracker")  # the handoff service's keys
    await redis_client.set(f"{prefix}:tracker:broken", "{not json")
    found = sorted((q.sender, q.text, q.language) for q in await collect(redis_client, prefix))
    assert found == [("web:a", "blorp", "en"), ("whatsapp:+972501234567", "מה מזג האוויר?", "he")]
    assert [g.count for g in await unanswered(redis_client, prefix)] == [1, 1]


async def test_questions_are_read_from_kesher_tracker_store_and_rasas_old_format(
        redis_client: Redis, redis_server: RedisServer) -> None:
    prefix = Settings().tracker_key_prefix
    store = WindowedRedisTrackerStore(Domain.load(str(PROJECT_ROOT / "domain")), host="127.0.0.1",
                                      port=redis_server.port, key_prefix=prefix, window_turns=1)
    tracker: Optional[DialogueStateTracker] = store.init_tracker("web:new")
    for n in range(5):  # more than the window: every stored message counts, not only what the bot reads
        assert tracker is not None
        tracker.update(UserUttered(f"blorp number {n}", {"name": "nlu_fallback", "confidence": 0.2}))
        tracker.update(ActionExecuted("action_fallback"))
        await store.save(tracker)
        tracker = await store.retrieve("web:new")
        assert tracker is not None
    await redis_client.set(f"{prefix}:tracker:web:old", _tracker("web:old", [_user("glorp", "nlu_fallback", 0.2)]))
    found = sorted((q.sender, q.text) for q in await collect(redis_client, prefix))
    assert found == [*(("web:new", f"blorp number {n}") for n in range(5)), ("web:old", "glorp")]
    # One huge message: the newer events are still read.
    assert tracker is not None
    tracker.update(UserUttered("x" * (MAX_TRACKER_BYTES + 10), {"name": "nlu_fallback", "confidence": 0.2}))
    tracker.update(UserUttered("after the huge one", {"name": "nlu_fallback", "confidence": 0.2}))
    await store.save(tracker)
    found = sorted((q.sender, q.text) for q in await collect(redis_client, prefix))
    assert ("web:new", "after the huge one") in found and ("web:old", "glorp") in found
    assert all(not text.startswith("xxx") for _, text in found)
    await store.close()


def test_the_tracker_prefix_is_the_one_rasa_uses() -> None:
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    variable = "${" + Settings.variables()["tracker_key_prefix"] + "}"
    assert endpoints["tracker_store"]["key_prefix"] == endpoints["lock_store"]["key_prefix"] == variable


def test_a_question_the_knowledge_base_had_no_article_for_counts() -> None:
    events = [
        _user("how do I descale a samovar", "kb_question", 0.9), _action("action_kb_answer"),
        {"event": "slot", "name": "human_offer_reason", "value": "kb_no_answer"},
        _user("how do I clean the kettle", "kb_question", 0.9), _action("action_kb_answer"),
    ]
    assert [(q.text, q.reason) for q in questions_in(events, "web:1")] == [("how do I descale a samovar", "no_answer")]


def test_masking_is_linear_on_long_runs_without_an_address() -> None:
    """The old e-mail pattern retried a long run of letters from every position (quadratic)."""
    def mask(text: str, done: threading.Event) -> None:
        mask_personal(text, "en")
        done.set()

    for text in ("a" * 200_000, "a." * 100_000, "1 " * 100_000 + "x", "x@" + "a" * 200_000):
        done = threading.Event()
        threading.Thread(target=mask, args=(text, done), daemon=True).start()
        assert done.wait(10), f"masking {text[:10]!r}… ({len(text)} characters) did not finish"


def test_grouping_keeps_the_most_recent_questions_of_a_language_only() -> None:
    events = [_user(f"question number {n} about a thing", "nlu_fallback", at=float(n)) for n in range(60)]
    groups = group(questions_in(events, "web:1"), max_per_language=25)
    kept = [q for g in groups for q in g.questions]
    assert len(kept) == 25
    assert min(q.at for q in kept) == 35.0  # the 25 newest


async def test_reading_trackers_stops_at_the_cap_and_skips_huge_ones(redis_client: Redis) -> None:
    prefix = Settings().tracker_key_prefix
    for n in range(30):
        await redis_client.set(f"{prefix}:tracker:web:{n}", _tracker(f"web:{n}", [_user("blorp", "nlu_fallback")]))
    assert len(await read_trackers(redis_client, prefix, limit=10)) == 10
    huge = _tracker("web:huge", [_user("x" * (MAX_TRACKER_BYTES + 10), "nlu_fallback")])
    await redis_client.set(f"{prefix}:tracker:web:huge", huge)
    every = await read_trackers(redis_client, prefix)
    assert len(every) == 30 and "web:huge" not in {sender for sender, _ in every}


async def test_the_grouping_runs_in_a_worker_thread_not_the_event_loop(
    redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix = Settings().tracker_key_prefix
    await redis_client.set(f"{prefix}:tracker:web:a", _tracker("web:a", [_user("blorp", "nlu_fallback", 0.2)]))
    threads: List[threading.Thread] = []
    real_group = unanswered_module.group

    def recording_group(*args: Any, **kwargs: Any) -> List[QuestionGroup]:
        threads.append(threading.current_thread())
        return real_group(*args, **kwargs)

    monkeypatch.setattr(unanswered_module, "group", recording_group)
    assert [g.count for g in await unanswered(redis_client, prefix)] == [1]
    assert threads and threads[0] is not threading.main_thread()


def _offering(text: str, answer: str, questions: Dict[str, str], at: float = 1_700_000_000.0) -> Dict[str, Any]:
    event = _user(text, "nlu_fallback", 0.7, at)
    event["parse_data"][SUGGESTION] = make_suggestion(answer, 0.86, questions)
    return event


def test_a_question_whose_offered_faq_question_the_customer_sent_names_that_faq() -> None:
    offered = {"en": "how long does delivery take?", "he": "כמה זמן לוקח משלוח?"}
    events = [
        _offering("how long to a lighthouse in a holiday week?", "faq/shipping_time", offered, at=1),
        _action("action_fallback"),
        {"event": "bot", "text": "I'm not sure I understood…", "timestamp": 2},
        _user("How long does  delivery take?", "faq", 0.99, at=3), _action("utter_faq"),
        _offering("are your candles vegan?", "faq/shipping_time", offered, at=4), _action("action_fallback"),
        _user("no, I mean the ingredients", "nlu_fallback", 0.3, at=5), _action("action_fallback"),
    ]
    found = {q.text: q for q in questions_in(events, "web:1")}
    assert found["how long to a lighthouse in a holiday week?"].taken == "faq/shipping_time"
    assert found["are your candles vegan?"].taken == ""  # offered, not taken
    assert found["no, I mean the ingredients"].taken == ""
    assert "How long does  delivery take?" not in found  # the tapped question was answered
    groups = group(list(found.values()))
    taken = next(g for g in groups if "lighthouse" in g.text)
    assert taken.taken_answers == {"faq/shipping_time": 1}
