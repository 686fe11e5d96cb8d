"""Search over conversations for the desk: by reference, name, e-mail, phone or what was said.

A bounded scan, not an index: it reads the conversations that can matter to an
agent from the sets Redis already keeps (the queue, every desk agent's open
chats, and the newest :data:`MAX_CLOSED` closed ones), so a search costs at most
three pipelined round trips whatever the size of the database:

- the candidates: one ``ZRANGE`` of the queue, one ``SMEMBERS`` per desk agent, one
  ``ZREVRANGE`` of the closed set;
- one ``HGETALL`` per candidate (queue + open chats + at most 500 closed);
- one ``XREVRANGE ... COUNT 200`` for each of the first :data:`MAX_TEXT_SCAN`
  candidates the agent may read that did not already match on a field, only when
  the query is at least three characters long.

Older conversations are not searched (their earlier handoffs still show in the
customer panel). Only conversations the agent may read are returned
(``Conversation.visible_to``: their own, queued ones, and every one for a supervisor).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Dict, Iterable, List, Optional, Sequence

from handoff.models import Agent, Conversation, Event, EventKind
from handoff.state import HandoffStore

__all__ = [
    "EVENTS_PER_CONVERSATION",
    "MAX_CLOSED",
    "MAX_QUERY",
    "MAX_RESULTS",
    "MAX_TEXT_SCAN",
    "SearchHit",
    "search_conversations",
]

MAX_CLOSED = 500
MAX_TEXT_SCAN = 200
EVENTS_PER_CONVERSATION = 200
MAX_RESULTS = 30
MAX_QUERY = 100
MIN_TEXT_QUERY = 3
SNIPPET = 80
_SAID = (EventKind.CUSTOMER, EventKind.AGENT, EventKind.NOTE)
_NOT_DIGIT = re.compile(r"\D")


@dataclass(frozen=True)
class SearchHit:
    """One conversation found.

    Attributes:
        conversation: Its record.
        field: What matched: ``reference``, ``name``, ``email``, ``phone`` or ``text``.
        snippet: The matching words (for ``text``: around the match), as said.
        at: When the matching message was said (0 for a field).
    """

    conversation: Conversation
    field: str
    snippet: str
    at: float = 0.0

    def to_json(self, viewer: Agent) -> Dict[str, Any]:
        """What the desk shows of a hit; ``mine`` false means it opens read-only."""
        conv = self.conversation
        return {
            "cid": conv.cid, "reference": conv.reference, "customer_name": conv.customer_name,
            "state": conv.state.value, "language": conv.language, "channel": conv.channel,
            "agent_name": conv.agent_name, "closed_at": conv.closed_at, "field": self.field,
            "snippet": self.snippet, "at": self.at,
            "mine": conv.agent_id == viewer.agent_id and conv.state.value == "with_agent",
        }


def _unique(ids: Iterable[str]) -> List[str]:
    seen: Dict[str, None] = {}
    for cid in ids:
        seen.setdefault(cid, None)
    return list(seen)


async def _candidates(store: HandoffStore, desk_agents: Sequence[str]) -> List[str]:
    """The queue, every desk agent's open chats, then the newest closed conversations."""
    keys = store.keys
    async with store.redis.pipeline(transaction=False) as pipe:
        pipe.zrange(keys.queue(), 0, -1)
        for agent_id in desk_agents:
            pipe.smembers(keys.agent_chats(agent_id))
        pipe.zrevrange(keys.closed(), 0, MAX_CLOSED - 1)
        replies = await pipe.execute()
    queued, *chats, closed = replies
    open_chats = sorted(cid for members in chats for cid in members)
    return _unique([*queued, *open_chats, *closed])


def _field_match(conv: Conversation, needle: str, digits: str) -> Optional[SearchHit]:
    """The first field of ``conv`` that holds the query (phones compared by their digits)."""
    for field, value in (("reference", conv.reference), ("name", conv.customer_name),
                         ("email", conv.email), ("email", conv.email_unverified)):
        if value and needle in value.casefold():
            return SearchHit(conv, field, value)
    # A local number (054...) matches its international form (+972 54...): the trunk 0 is dropped.
    national = digits.lstrip("0")
    if conv.phone and len(national) >= 4 and national in _NOT_DIGIT.sub("", conv.phone):
        return SearchHit(conv, "phone", conv.phone)
    return None


def _snippet(text: str, needle: str) -> str:
    at = text.casefold().find(needle)
    start = max(0, at - SNIPPET // 2)
    piece = text[start:start + SNIPPET]
    return ("…" if start else "") + piece + ("…" if start + SNIPPET < len(text) else "")


async def _text_matches(store: HandoffStore, convs: Sequence[Conversation], needle: str) -> List[SearchHit]:
    """The conversations whose newest messages say ``needle`` (customer, agent and notes)."""
    if not convs:
        return []
    async with store.redis.pipeline(transaction=False) as pipe:
        for conv in convs:
            pipe.xrevrange(store.keys.events(conv.cid), count=EVENTS_PER_CONVERSATION)
        streams = await pipe.execute()
    hits: List[SearchHit] = []
    for conv, rows in zip(convs, streams, strict=True):
        for stream_id, raw in rows:
            event = Event.from_redis(stream_id, raw)
            if event.kind in _SAID and event.text and needle in event.text.casefold():
                hits.append(SearchHit(conv, "text", _snippet(event.text, needle), event.at))
                break
    return hits


async def search_conversations(
    store: HandoffStore, desk_agents: Sequence[str], viewer: Agent, query: str
) -> List[SearchHit]:
    """The conversations ``viewer`` may read that match ``query``, field matches first, at most 30.

    Args:
        store: The handoff store.
        desk_agents: The ids of every agent with a desk (whose open chats are searched).
        viewer: Who searches; only what they may read is returned.
        query: What to look for (trimmed, at most :data:`MAX_QUERY` characters; the caller checks).
    """
    needle = query.strip().casefold()
    if not needle:
        return []
    digits = _NOT_DIGIT.sub("", needle)
    cids = await _candidates(store, desk_agents)
    readable = [c for c in await store.get_many(cids) if c is not None and c.visible_to(viewer)]
    hits: List[SearchHit] = []
    rest: List[Conversation] = []
    for conv in readable:
        hit = _field_match(conv, needle, digits)
        if hit is not None:
            hits.append(hit)
        else:
            rest.append(conv)
    if len(needle) >= MIN_TEXT_QUERY and len(hits) < MAX_RESULTS:
        hits.extend(await _text_matches(store, rest[:MAX_TEXT_SCAN], needle))
    return hits[:MAX_RESULTS]
