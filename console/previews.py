"""The last thing said in each of an agent's chats, for the "My chats" list."""

from __future__ import annotations

from typing import Any, Dict, Optional, Sequence

from handoff.models import Event, EventKind
from handoff.state import HandoffStore

__all__ = ["LOOK_BACK", "last_messages"]

LOOK_BACK = 20  # newest events read per chat to find the last message (state lines and notes are skipped)
PREVIEW_CHARS = 120
_SAID = (EventKind.CUSTOMER, EventKind.AGENT)


async def last_messages(store: HandoffStore, cids: Sequence[str]) -> Dict[str, Optional[Dict[str, Any]]]:
    """Each chat's newest customer or agent message (kind, author, text cut to 120 characters, time), or None.

    One pipelined round trip: ``XREVRANGE ... COUNT 20`` per chat.
    """
    if not cids:
        return {}
    async with store.redis.pipeline(transaction=False) as pipe:
        for cid in cids:
            pipe.xrevrange(store.keys.events(cid), count=LOOK_BACK)
        streams = await pipe.execute()
    out: Dict[str, Optional[Dict[str, Any]]] = {}
    for cid, rows in zip(cids, streams, strict=True):
        out[cid] = None
        for stream_id, raw in rows:
            event = Event.from_redis(stream_id, raw)
            if event.kind in _SAID and event.text:
                out[cid] = {"kind": event.kind.value, "author": event.author, "text": event.text[:PREVIEW_CHARS],
                            "at": event.at}
                break
    return out
