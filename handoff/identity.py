"""Who a customer is across channels: addresses, conversation ids and linking.

Each channel knows the customer by an address of its own: a WhatsApp number,
a Telegram chat, a web session. A new address starts its own conversation,
``<channel>:<address>`` (Rasa's sender id). When a customer proves who they
are (the order form verifies the e-mail or phone on an order), the verified
e-mail is recorded against the conversation. The same e-mail verified later on
another channel links that channel's address to the first conversation, so
from then on the customer writes into one conversation: one Rasa tracker, one
handoff record, one agent.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Dict, Optional, Tuple

from redis.asyncio import Redis

from core.redis_keys import RedisKeys

__all__ = ["IDENTITY_TTL_SECONDS", "IdentityBook", "LinkResult", "conversation_id", "split_conversation_id"]

IDENTITY_TTL_SECONDS = 90 * 24 * 3600


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
    """

    cid: str
    linked: bool


class IdentityBook:
    """Maps channel addresses to conversations and links them on verified contacts."""

    def __init__(self, redis: Redis, keys: RedisKeys, ttl_seconds: int = IDENTITY_TTL_SECONDS) -> None:
        """Keeps the Redis client.

        Args:
            redis: ``redis.asyncio`` client with ``decode_responses=True``.
            keys: Key builder.
            ttl_seconds: How long a link or a verified contact is kept after its last use.
        """
        self.redis = redis
        self.keys = keys
        self.ttl = ttl_seconds

    async def resolve(self, channel: str, address: str) -> str:
        """The conversation a message from ``address`` on ``channel`` belongs to."""
        linked = await self.redis.get(self.keys.identity(channel, address))
        return str(linked) if linked else conversation_id(channel, address)

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

    async def verified(self, cid: str, email: str) -> LinkResult:
        """Records that the customer of ``cid`` verified ``email``; links to an earlier conversation.

        The first conversation to verify an e-mail owns it. A later conversation
        verifying the same e-mail has its addresses pointed at the first one.

        Args:
            cid: The conversation where the customer just verified.
            email: The verified e-mail (case-insensitive).

        Returns:
            The conversation to use from now on, and whether a link was made.
        """
        key = self.keys.contact(_digest(email))
        if await self.redis.set(key, cid, nx=True, ex=self.ttl):
            return LinkResult(cid, linked=False)
        owner = str(await self.redis.get(key) or cid)
        await self.redis.expire(key, self.ttl)
        if owner == cid:
            return LinkResult(cid, linked=False)
        moved = await self.addresses(cid)
        async with self.redis.pipeline(transaction=True) as pipe:
            for channel, address in moved.items():
                pipe.set(self.keys.identity(channel, address), owner, ex=self.ttl)
            if moved:
                pipe.hset(self.keys.addresses(owner), mapping=dict(moved))  # type: ignore[arg-type]
            pipe.expire(self.keys.addresses(owner), self.ttl)
            await pipe.execute()
        return LinkResult(owner, linked=True)


def _digest(email: str) -> str:
    # Hashed so the key space does not list customers' e-mail addresses.
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:40]
