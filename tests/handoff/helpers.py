"""Builders shared by the handoff tests."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

from handoff.agents import load_agents
from handoff.desk import Desk
from handoff.models import HandoffRequest
from handoff.policy import load_policy
from handoff.state import HandoffStore

ROOT = Path(__file__).resolve().parents[2]
# Sunday 2026-03-15 10:30 UTC = 12:30 in Jerusalem: within business hours.
OPEN = 1773570600.0
# Saturday 2026-03-14 10:30 UTC: closed.
CLOSED = OPEN - 24 * 3600


class Clock:
    """A clock the test moves."""

    def __init__(self, now: float = OPEN) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def make_desk(store: HandoffStore, clock: Optional[Clock] = None, outbox: object = None) -> Desk:
    clock = clock or Clock()
    store.clock = clock
    return Desk(store, load_policy(), load_agents(ROOT / "handoff" / "agents.yml"), outbox=outbox,  # type: ignore[arg-type]
                clock=clock)


def request(cid: str, language: str = "en", reason: str = "explicit_request", priority: int = 1,
            topic: str = "general", email: str = "") -> HandoffRequest:
    return HandoffRequest(cid=cid, channel="kesher_callback", language=language, reason=reason,
                          reference=f"K-{abs(hash(cid)) % 0xFFFFFF:06X}", priority=priority, topic=topic, email=email)
