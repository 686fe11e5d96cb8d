"""Who a customer is across channels: addresses, conversation ids and linking.

Each channel knows the customer by an address of its own: a WhatsApp number,
a Telegram chat, a web session. A new address starts its own conversation,
``<channel>:<address>`` (Rasa's sender id). When a customer proves who they
are (the order form verifies the e-mail or phone on an order), the verified
e-mail is recorded against the conversation. The same e-mail verified later on
another channel links that channel's address to the first conversation, so
from then on the customer writes into one conversation: one Rasa tracker, one
handoff record, one agent.

Linking is guarded, because whoever verifies an e-mail second joins the first
conversation: it happens only while that conversation is recently active (its
customer wrote within ``link_recent_hours``; an older one is left alone and the
new conversation becomes the e-mail's), only for a channel the conversation
has no address on yet (a second web session would replay the first one's
widget history), and the channels already there are told (see
``handoff.desk.Desk.customer_verified``). A typed e-mail proved by a mailed
code (``handoff.email_codes``) counts as verified for its conversation but
links nothing.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Callable, Dict, Optional, Tuple

from redis.asyncio import Redis

from core.redis_keys import RedisKeys
from handoff.email_codes import EmailCodes, email_digest

__all__ = [
    "IDENTITY_TTL_SECONDS",
    "LINK_RECENT_SECONDS",
    "IdentityBook",
    "LinkResult",
    "conversation_id",
    "split_conversation_id",
]

IDENTITY_TTL_SECONDS = 90 * 24 * 3600
LINK_RECENT_SECONDS = 24 * 3600


def conversation_id(channel: str, address: str) -> str:
    """The conversation an address starts on its own: ``<channel>:<address>``."""
    return f"{channel}:{address}"


def split_conversation_id(cid: str) -> Optional[Tuple[str, str]]:
    """``(channel, address)`` of a conversation id built by :func:`conversation_id`."""
    channel, sep, address = cid.partition(":")
    return (channel, address) if sep and channel and address else None


@dataclass(frozen=True)
class LinkResult:
    """What recording a verified contact did.

    Attributes:
        cid: The conversation the customer writes into from now on.
        linked: True when the verifying conversation was joined to an earlier one.
        told: When linked, the channel → address the earlier conversation had before
            (its customer is told there that the conversation continues elsewhere).
        refused: Why an earlier conversation with this e-mail was not joined
            (``stale``, ``same_channel``; "" when there was none or it was joined).
    """

    cid: str
    linked: bool
    told: Dict[str, str] = field(default_factory=dict)
    refused: str = ""


class IdentityBook:
    """Maps channel addresses to conversations and links them on verified contacts."""

    def __init__(
        self,
        redis: Redis,
        keys: RedisKeys,
        ttl_seconds: int = IDENTITY_TTL_SECONDS,
        *,
        recent_seconds: float = LINK_RECENT_SECONDS,
        codes: Optional[EmailCodes] = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """Keeps the Redis client.

        Args:
            redis: ``redis.asyncio`` client with ``decode_responses=True``.
            keys: Key builder.
            ttl_seconds: How long a link or a verified contact is kept after its last use.
            recent_seconds: A conversation whose customer wrote within this long may be joined.
            codes: The one-time e-mail codes (default: the default rules on the same Redis).
            clock: Epoch seconds.
        """
        self.redis = redis
        self.keys = keys
        self.ttl = ttl_seconds
        self.recent_seconds = recent_seconds
        self.codes = codes or EmailCodes(redis, keys)
        self.clock = clock

    async def resolve(self, channel: str, address: str) -> str:
        """The conversation a message from ``address`` on ``channel`` belongs to; notes that it is active."""
        linked = await self.redis.get(self.keys.identity(channel, address))
        cid = str(linked) if linked else conversation_id(channel, address)
        await self.touch(cid)
        # Where a notice finds the customer (handoff.notices): the channel they last wrote on.
        await self.redis.set(self.keys.last_channel(cid), channel, ex=self.ttl)
        return cid

    async def touch(self, cid: str) -> None:
        """Notes that the customer of ``cid`` wrote just now (kept for the linking window)."""
        await self.redis.set(self.keys.activity(cid), repr(self.clock()), ex=max(1, int(self.recent_seconds)))

    async def recently_active(self, cid: str) -> bool:
        """Whether the customer of ``cid`` wrote within the linking window."""
        last = await self.redis.get(self.keys.activity(cid))
        return last is not None and self.clock() - float(last) <= self.recent_seconds

    async def addresses(self, cid: str) -> Dict[str, str]:
        """Channel → address of every channel the conversation's customer writes from."""
        found: Dict[str, str] = dict(await self.redis.hgetall(self.keys.addresses(cid)))
        own = split_conversation_id(cid)
        if own is not None:
            found.setdefault(*own)
        return found

    async def address(self, cid: str, channel: str) -> Optional[str]:
        """The customer's address on ``channel`` for conversation ``cid`` (None if unknown)."""
        own = split_conversation_id(cid)
        if own is not None and own[0] == channel:
            return own[1]
        found = await self.redis.hget(self.keys.addresses(cid), channel)
        return str(found) if found else None

    async def is_verified(self, cid: str, email: str) -> bool:
        """Whether the customer of ``cid`` proved ``email`` is theirs (an order's own address, or a code)."""
        return bool(email) and bool(
            await self.redis.sismember(self.keys.verified_contacts(cid), email_digest(email)))

    async def mark_verified(self, cid: str, digest: str) -> None:
        """Records that the customer of ``cid`` proved the address with hash ``digest``; links nothing."""
        key = self.keys.verified_contacts(cid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, digest)
            pipe.expire(key, self.ttl)
            await pipe.execute()

    async def verified(self, cid: str, email: str) -> LinkResult:
        """Records that the customer of ``cid`` verified ``email`` on an order; may join an earlier conversation.

        The e-mail belongs to one conversation. A later conversation verifying it joins
        that one (its addresses point there) only when the earlier conversation's customer
        wrote recently and it has no address on the later one's channels; when it is stale
        the later conversation takes the e-mail over, and when a channel clashes both stay apart.

        Args:
            cid: The conversation where the customer just verified.
            email: The verified e-mail (case-insensitive).

        Returns:
            The conversation to use from now on, whether a link was made and who to tell.
        """
        digest = email_digest(email)
        await self.touch(cid)  # the customer is writing here right now
        await self.mark_verified(cid, digest)
        key = self.keys.contact(digest)
        if await self.redis.set(key, cid, nx=True, ex=self.ttl):
            return LinkResult(cid, linked=False)
        owner = str(await self.redis.get(key) or cid)
        if owner == cid:
            await self.redis.expire(key, self.ttl)
            return LinkResult(cid, linked=False)
        if not await self.recently_active(owner):
            await self.redis.set(key, cid, ex=self.ttl)
            return LinkResult(cid, linked=False, refused="stale")
        moved = await self.addresses(cid)
        before = await self.addresses(owner)
        if any(before.get(channel, address) != address for channel, address in moved.items()):
            await self.redis.expire(key, self.ttl)
            return LinkResult(cid, linked=False, refused="same_channel")
        async with self.redis.pipeline(transaction=True) as pipe:
            for channel, address in moved.items():
                pipe.set(self.keys.identity(channel, address), owner, ex=self.ttl)
            if moved:
                pipe.hset(self.keys.addresses(owner), mapping=dict(moved))  # type: ignore[arg-type]
            pipe.expire(self.keys.addresses(owner), self.ttl)
            pipe.expire(key, self.ttl)
            pipe.sadd(self.keys.verified_contacts(owner), digest)
            pipe.expire(self.keys.verified_contacts(owner), self.ttl)
            pipe.set(self.keys.link_notice(owner), json.dumps(moved), ex=max(1, int(self.recent_seconds)))
            await pipe.execute()
        told = {channel: address for channel, address in before.items() if channel not in moved}
        return LinkResult(owner, linked=True, told=told)

    async def undo_link(self, cid: str, channel: str) -> Dict[str, str]:
        """The customer of ``cid`` says the channel that just joined was not them: it is disconnected.

        Only a customer writing on one of the conversation's earlier channels can undo the
        latest link, within the linking window; the disconnected addresses start their own
        conversations again.

        Args:
            cid: The conversation.
            channel: The channel the objection came from.

        Returns:
            Channel → address of what was disconnected ({} when nothing was).
        """
        raw = await self.redis.get(self.keys.link_notice(cid))
        joined: Dict[str, str] = json.loads(raw) if raw else {}
        if not joined or channel in joined:
            return {}
        async with self.redis.pipeline(transaction=True) as pipe:
            for name, address in joined.items():
                pipe.delete(self.keys.identity(name, address))
                pipe.hdel(self.keys.addresses(cid), name)
            pipe.delete(self.keys.link_notice(cid))
            await pipe.execute()
        return joined
