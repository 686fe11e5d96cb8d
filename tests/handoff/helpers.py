"""Builders shared by the handoff tests."""

from __future__ import annotations

from typing import Optional

from handoff.desk import Desk
from handoff.mail.outbox import MailOutbox
from handoff.models import Agent, Conversation, HandoffRequest
from handoff.state import HandoffStore
from tests.helpers.backends import desk_on

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


def make_desk(store: HandoffStore, clock: Optional[Clock] = None) -> Desk:
    """The desk over ``store`` with its mail queued (no worker sends it unless a test runs one)."""
    clock = clock or Clock()
    return desk_on(store, clock, MailOutbox(store.redis, store.keys, clock))


def request(cid: str, language: str = "en", reason: str = "explicit_request", priority: int = 1,
            topic: str = "general", email: str = "", channel: str = "kesher_callback") -> HandoffRequest:
    return HandoffRequest(cid=cid, channel=channel, language=language, reason=reason,
                          reference=f"K-{abs(hash(cid)) % 0xFFFFFF:06X}", priority=priority, topic=topic, email=email)


async def conversation(store: HandoffStore, cid: str) -> Conversation:
    """The conversation's record; the test fails if there is none."""
    conv = await store.get(cid)
    assert conv is not None, f"there is no conversation {cid}"
    return conv


def agent(desk: Desk, agent_id: str) -> Agent:
    """One of the project's agents (handoff/agents.yml); the test fails if there is no such agent."""
    found = desk.agents.get(agent_id)
    assert found is not None, f"there is no agent {agent_id}"
    return found
