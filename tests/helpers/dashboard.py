"""A small event log with numbers worked out by hand, for the dashboard's tests.

Six contacts over three days (2026-03-02 to 2026-03-04, UTC) and one older one that a
period of those days leaves out. What the page must show for them:

===================  ======================  =============  ==============
                     all channels            web only       telegram only
===================  ======================  =============  ==============
contacts             6                       4              2
customer messages    10                      6              4
not understood       4 (40%)                 2 (33.3%)      2 (50%)
handed to a person   2 (33.3%)               1 (25%)        1 (50%)
ratings              3, average 3.7          2, average 4.5 1, average 2.0
queue waits          1 (60 s)                1 (60 s)       0
first-contact res.   5 of 6 (83.3%)          3 of 4 (75%)   2 of 2 (100%)
===================  ======================  =============  ==============

(Every turn has a topic; the conversation ``web:c1`` comes back on its topic the next day.)

The most frequent unanswered question is Hebrew (asked twice, on the web); an English one
starts like a spreadsheet formula and holds a comma and quotes (asked twice, on Telegram).
"""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Dict, List, Sequence, Union

from sqlalchemy import create_engine

from analytics.tables import metadata, service_events
from core import channels

__all__ = ["FIRST_DAY", "FORMULA_QUESTION", "HEBREW_QUESTION", "LAST_DAY", "integration_events", "seed_events"]

FIRST_DAY = "2026-03-02"
LAST_DAY = "2026-03-04"
HEBREW_QUESTION = "אפשר לשלם בביטקוין?"
FORMULA_QUESTION = '=HYPERLINK("x"), can I pay "later"?'
_ids = itertools.count(1)


def _event(kind: str, conversation: str, at: datetime, **fields: Any) -> Dict[str, Any]:
    channel = conversation.split(":", 1)[0]
    row: Dict[str, Any] = {
        "event_id": f"{int(at.timestamp() * 1000)}-{next(_ids)}", "at": at, "kind": kind,
        "conversation": conversation, "contact": f"{conversation}@{int(at.timestamp())}", "channel": channel,
        "language": "he" if channel == "web" else "en", "intent": "", "confidence": None, "outcome": "",
        "reason": "", "topic": "", "agent": "", "team": "", "value": None, "text": "",
    }
    row.update(fields)
    return row


def _contact(conversation: str, start: datetime, steps: List[tuple]) -> List[Dict[str, Any]]:
    contact = f"{conversation}@{int(start.timestamp())}"
    rows = []
    for i, (kind, fields) in enumerate(steps):
        rows.append(_event(kind, conversation, start + timedelta(seconds=30 * i), contact=contact, **fields))
    return rows


def _turn(outcome: str, intent: str = "order_status", text: str = "", topic: str = "orders") -> tuple:
    return ("turn", {"outcome": outcome, "intent": intent, "confidence": 0.9 if outcome == "answered" else 0.3,
                     "text": text, "topic": topic})


def events() -> List[Dict[str, Any]]:
    """The rows of the seeded event log."""
    day1, day2, day3 = (datetime(2026, 3, d, 9, 0) for d in (2, 3, 4))
    rows: List[Dict[str, Any]] = []
    rows += _contact("web:old", datetime(2026, 2, 20, 9, 0), [_turn("fell_back", "nlu_fallback", "old question")])
    rows += _contact("web:c1", day1, [_turn("answered"), _turn("answered")])
    rows += _contact("web:c2", day1 + timedelta(hours=1),
                     [_turn("answered", topic="payments"),
                      _turn("fell_back", "nlu_fallback", HEBREW_QUESTION, topic="payments")])
    rows += _contact("web:c3", day2, [
        _turn("handed_off", "human_handoff", "אני רוצה לדבר עם נציג"),
        ("handoff_queued", {"reason": "explicit_request", "topic": "orders"}),
        ("handoff_assigned", {"agent": "omer", "team": "billing", "value": 60.0}),
        ("agent_message", {"agent": "omer", "reason": "first", "value": 30.0}),
        ("closed", {"agent": "omer", "team": "billing", "reason": "resolved", "value": 300.0}),
        ("csat", {"value": 4.0, "reason": "agent", "agent": "omer"}),
    ])
    # web:c1 comes back on the same topic the next day: its first contact was not resolved at first contact
    rows += _contact("web:c1", day2 + timedelta(hours=2), [
        _turn("fell_back", "nlu_fallback", HEBREW_QUESTION), ("csat", {"value": 5.0, "reason": "bot"})])
    rows += _contact("telegram:c5", day3, [
        _turn("answered", topic="payments"), _turn("fell_back", "nlu_fallback", FORMULA_QUESTION, topic="payments"),
        _turn("fell_back", "nlu_fallback", FORMULA_QUESTION, topic="payments"),
        ("csat", {"value": 2.0, "reason": "bot"})])
    rows += _contact("telegram:c6", day3 + timedelta(hours=3), [
        _turn("handed_off", "human_handoff", "I want a person", topic="returns"),
        ("handoff_queued", {"reason": "complaint_frustration", "topic": "returns"}),
        ("abandoned", {"value": 120.0}),
    ])
    return rows


def integration_events() -> List[Dict[str, Any]]:
    """Two more contacts, on the REST and callback channels, as their conversation ids and events name them.

    ``kesher_rest:script-1`` (day 1): one answered message and one not understood, then a bot rating of 5;
    ``kesher_callback:crm-7`` (day 2): one message handed to a person and queued.
    """
    day1, day2 = datetime(2026, 3, 2, 11, 0), datetime(2026, 3, 3, 11, 0)
    rows = _contact(f"{channels.REST}:script-1", day1, [
        _turn("answered"), _turn("fell_back", "nlu_fallback", "integration question"),
        ("csat", {"value": 5.0, "reason": "bot"})])
    rows += _contact(f"{channels.CALLBACK}:crm-7", day2, [
        _turn("handed_off", "human_handoff", "a person please"),
        ("handoff_queued", {"reason": "explicit_request", "topic": "orders"})])
    return rows


def seed_events(target: Union[Path, str], extra: Sequence[Dict[str, Any]] = ()) -> str:
    """Writes the event log into a new SQLite file (a path) or an empty database (a URL); returns its URL.

    Args:
        target: The SQLite file, or an empty database's URL.
        extra: More rows (e.g. :func:`integration_events`) besides those of :func:`events`.
    """
    url = target if isinstance(target, str) else f"sqlite:///{target}"
    engine = create_engine(url, future=True)
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(service_events.insert(), [*events(), *extra])
    engine.dispose()
    return url
