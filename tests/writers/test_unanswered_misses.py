"""Unanswered questions (#18 point 7): rejected answers listed with the answer, dismissed wordings left out."""

from __future__ import annotations

import json
from typing import Any, Dict, List

from redis.asyncio import Redis

from core.redis_keys import RedisKeys
from writers.dismissed import DismissedWordings
from writers.unanswered import build_groups, group, questions_in

AT = 1_763_900_000.0


def _user(text: str, intent: str, at: float, confidence: float = 0.9,
          entities: List[Dict[str, Any]] | None = None) -> Dict[str, Any]:
    return {"event": "user", "text": text, "timestamp": at,
            "parse_data": {"intent": {"name": intent, "confidence": confidence}, "entities": entities or []}}


def _bot(text: str, at: float) -> Dict[str, Any]:
    return {"event": "bot", "text": text, "timestamp": at}


def test_a_typed_rejection_lists_the_question_with_the_last_answer() -> None:
    events = [
        _user("how long is the warranty on headphones", "faq", AT),
        _bot("Returns are accepted within 30 days.", AT + 1),
        _user("that's not what I asked", "answer_rejected", AT + 2),
    ]
    [miss] = questions_in(events, "web:1")
    assert (miss.text, miss.reason, miss.answer) == ("how long is the warranty on headphones", "rejected",
                                                     "Returns are accepted within 30 days.")


def test_a_thumbs_down_names_the_answer_it_rejects() -> None:
    events = [
        _user("do you ship to Eilat", "faq", AT),
        _bot("Yes, we ship everywhere in Israel.", AT + 1),
        _user("can I pay with bit", "faq", AT + 2, confidence=0.4),  # a low-confidence guess: listed anyway
        _bot("We accept cards and PayPal.", AT + 3),
        _user('/answer_rejected{"rejected_answer": "Yes, we ship everywhere"}', "answer_rejected", AT + 4, 1.0,
              [{"entity": "rejected_answer", "value": "Yes, we ship everywhere"}]),
        _user('/answer_rejected{"rejected_answer": "We accept cards"}', "answer_rejected", AT + 5, 1.0,
              [{"entity": "rejected_answer", "value": "We accept cards"}]),
    ]
    found = {(q.text, q.reason, q.answer) for q in questions_in(events, "web:1")}
    assert found == {("do you ship to Eilat", "rejected", "Yes, we ship everywhere in Israel."),
                     ("can I pay with bit", "rejected", "We accept cards and PayPal.")}
    [ship] = [g for g in group(questions_in(events, "web:1")) if "Eilat" in g.text]
    assert ship.rejected_answers == ["Yes, we ship everywhere in Israel."] and ship.reasons == {"rejected": 1}


def test_an_answer_with_personal_data_is_masked() -> None:
    events = [_user("where is my order", "order_status", AT), _bot("We'll write to noa@example.com", AT + 1),
              _user("זה לא מה ששאלתי", "answer_rejected", AT + 2)]
    [miss] = questions_in(events, "web:1")
    assert "noa@example.com" not in miss.answer and "•••@•••" in miss.answer


async def test_dismissed_wordings_stay_hidden(redis_client: Redis) -> None:
    events = [_user("asdf qwer", "nlu_fallback", AT), {"event": "action", "name": "action_fallback"},
              _user("Asdf, QWER!", "nlu_fallback", AT + 1), {"event": "action", "name": "action_fallback"},
              _user("book me a hotel", "out_of_scope", AT + 2)]
    trackers = [("web:1", json.dumps({"events": events}))]
    groups = build_groups(trackers)
    gibberish = next(g for g in groups if "asdf" in g.text.lower())
    store = DismissedWordings(redis_client, RedisKeys("test:ho:"))
    assert await store.dismiss([gibberish], "wendy") == 1
    left = build_groups(trackers, await store.wordings())
    assert [g.text for g in left] == ["book me a hotel"]
    # A new wording of a dismissed question shows again; the same wording asked later does not.
    more = events + [_user("asdf qwer", "nlu_fallback", AT + 9), {"event": "action", "name": "action_fallback"},
                     _user("asdf qwer zzz", "nlu_fallback", AT + 10), {"event": "action", "name": "action_fallback"}]
    left = build_groups([("web:1", json.dumps({"events": more}))], await store.wordings())
    assert sorted(q.text for g in left for q in g.questions) == ["asdf qwer zzz", "book me a hotel"]
