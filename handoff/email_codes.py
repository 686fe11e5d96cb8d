"""One-time codes that prove a customer reads the e-mail address they typed.

A typed address is not trusted: anyone can type anyone's address. When a
customer types one during a handoff, Kesher mails a six-digit code there
(through the mail outbox) and trusts the address only once the customer types
the code back. The code is kept hashed (HMAC-SHA256 with a random salt) in
Redis next to the hash of the address it was sent to; it expires after a few
minutes and is void after a few wrong tries, counted atomically. How many code
e-mails go out is limited per address and per conversation per hour
(``SET NX EX`` + ``INCR``), so Kesher cannot be used to flood a mailbox.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from enum import StrEnum
from typing import Optional

from redis.asyncio import Redis

from core.redis_keys import RedisKeys
from core.settings import Settings

__all__ = [
    "CODE_DIGITS",
    "CheckResult",
    "CodeCheck",
    "CodeRules",
    "EmailCodes",
    "Issue",
    "IssuedCode",
    "email_digest",
    "looks_like_code",
]

CODE_DIGITS = 6
HOUR_SECONDS = 3600
_CODE = re.compile(r"^\s*(\d(?:[\s-]?\d){5})\s*[.!]?\s*$")


def email_digest(email: str) -> str:
    """The key-safe hash of an address (case and surrounding spaces ignored): no key lists addresses."""
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()[:40]


def looks_like_code(text: str) -> Optional[str]:
    """The six digits of a message that is only a code ("123456", "123 456", "12-34-56"), else None."""
    found = _CODE.match(text)
    return re.sub(r"\D", "", found.group(1)) if found else None


@dataclass(frozen=True)
class CodeRules:
    """How codes behave.

    Attributes:
        minutes: How long a code is valid.
        attempts: Wrong codes before the code is void.
        per_address: Most code e-mails to one address per hour.
        per_conversation: Most code e-mails one conversation asks for per hour.
    """

    minutes: int = 10
    attempts: int = 5
    per_address: int = 3
    per_conversation: int = 3

    @classmethod
    def from_settings(cls, settings: Settings) -> CodeRules:
        """The rules the settings give (``KESHER_EMAIL_CODE_*``, ``KESHER_EMAIL_CODES_PER_*``)."""
        return cls(
            minutes=settings.email_code_minutes,
            attempts=settings.email_code_attempts,
            per_address=settings.email_codes_per_address,
            per_conversation=settings.email_codes_per_conversation,
        )


class Issue(StrEnum):
    """What asking for a code did."""

    SENT = "sent"  # a new code was made; the caller mails it
    LIMITED = "limited"  # too many code e-mails for this address or conversation this hour


@dataclass(frozen=True)
class IssuedCode:
    """A code to mail, or why there is none.

    Attributes:
        outcome: Whether a code was made.
        code: The six digits ("" unless ``outcome`` is ``SENT``); never stored in clear by this class.
    """

    outcome: Issue
    code: str = ""


class CodeCheck(StrEnum):
    """What typing a code did."""

    VERIFIED = "verified"  # right code for the pending address: it is the customer's
    WRONG = "wrong"  # wrong code; more tries left
    LOCKED = "locked"  # too many wrong codes: the code is void
    NONE = "none"  # no code is pending (never sent, expired, or already used)


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a typed code.

    Attributes:
        outcome: See :class:`CodeCheck`.
        remaining: Tries left after a wrong code.
        address_digest: The hash of the address the code was sent to (when verified).
    """

    outcome: CodeCheck
    remaining: int = 0
    address_digest: str = ""


class EmailCodes:
    """Issues and checks the one-time codes of the module docstring, one pending code per conversation."""

    def __init__(self, redis: Redis, keys: RedisKeys, rules: CodeRules = CodeRules()) -> None:
        """Keeps the Redis client.

        Args:
            redis: ``redis.asyncio`` client with ``decode_responses=True``.
            keys: Key builder.
            rules: Lifetime, attempts and hourly limits.
        """
        self.redis = redis
        self.keys = keys
        self.rules = rules

    async def issue(self, cid: str, email: str) -> IssuedCode:
        """Makes a new code for ``email`` in conversation ``cid``, unless the hourly limits are reached.

        A new code replaces the conversation's pending one (and its count of wrong tries).
        Each call counts against both limits, refused ones included.

        Args:
            cid: The conversation asking.
            email: The typed address the code will be mailed to.

        Returns:
            The code to mail, or ``LIMITED``.
        """
        digest = email_digest(email)
        counters = (
            (self.keys.email_codes_sent("address", digest), self.rules.per_address),
            (self.keys.email_codes_sent("conversation", email_digest(cid)), self.rules.per_conversation),
        )
        async with self.redis.pipeline(transaction=True) as pipe:
            for key, _ in counters:
                pipe.set(key, 0, nx=True, ex=HOUR_SECONDS)  # the hour starts with the first code
                pipe.incr(key)
            counts = (await pipe.execute())[1::2]
        if any(int(count) > limit for count, (_, limit) in zip(counts, counters, strict=True)):
            return IssuedCode(Issue.LIMITED)
        code = f"{secrets.randbelow(10 ** CODE_DIGITS):0{CODE_DIGITS}d}"
        salt = secrets.token_hex(16)
        key = self.keys.email_code(cid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(key)
            pipe.hset(key, mapping={"address": digest, "salt": salt, "hash": _hash(salt, code), "tries": 0})
            pipe.expire(key, self.rules.minutes * 60)
            await pipe.execute()
        return IssuedCode(Issue.SENT, code)

    async def pending(self, cid: str) -> bool:
        """Whether the conversation waits for a code."""
        return bool(await self.redis.exists(self.keys.email_code(cid)))

    async def check(self, cid: str, code: str) -> CheckResult:
        """Checks a typed code; a right one is used up, the ``attempts``-th wrong one voids the code.

        Every try is counted before it is compared (``HINCRBY``), so concurrent guesses count
        one each and none is compared after the limit.

        Args:
            cid: The conversation.
            code: What the customer typed (digits only).
        """
        key = self.keys.email_code(cid)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hgetall(key)
            pipe.hincrby(key, "tries", 1)
            stored, tries = await pipe.execute()
        if not stored.get("hash"):
            await self.redis.delete(key)  # HINCRBY made a hash without a code
            return CheckResult(CodeCheck.NONE)
        if int(tries) > self.rules.attempts:
            await self.redis.delete(key)
            return CheckResult(CodeCheck.LOCKED)
        if hmac.compare_digest(_hash(stored["salt"], code), stored["hash"]):
            await self.redis.delete(key)
            return CheckResult(CodeCheck.VERIFIED, address_digest=stored["address"])
        remaining = self.rules.attempts - int(tries)
        if remaining <= 0:
            await self.redis.delete(key)
            return CheckResult(CodeCheck.LOCKED)
        return CheckResult(CodeCheck.WRONG, remaining=remaining)

    async def withdraw(self, cid: str) -> None:
        """Forgets the conversation's pending code (the customer skipped)."""
        await self.redis.delete(self.keys.email_code(cid))


def _hash(salt: str, code: str) -> str:
    return hmac.new(salt.encode(), code.encode(), hashlib.sha256).hexdigest()
