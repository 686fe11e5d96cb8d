"""Unanswered-question groups a writer dismissed (gibberish, test traffic, nothing to teach the bot).

A dismissed group's wordings are kept, normalised (:func:`writers.unanswered.plain_wording`), in one
Redis hash per language (``RedisKeys.dismissed_questions``) with who dismissed them and when; the
unanswered page leaves those wordings out before grouping, so the group stays hidden from then on,
and a new wording of the same question shows again.
"""

from __future__ import annotations

import json
import time
from typing import AbstractSet, Dict, Iterable, Mapping

from redis.asyncio import Redis

from core.language import LANGUAGES
from core.redis_keys import RedisKeys
from writers.unanswered import QuestionGroup, plain_wording

__all__ = ["DismissedWordings"]


class DismissedWordings:
    """The wordings writers dismissed, per language."""

    def __init__(self, redis: Redis, keys: RedisKeys) -> None:
        """Keeps the client; nothing connects here.

        Args:
            redis: ``redis.asyncio`` client with ``decode_responses=True``.
            keys: Where the hashes live.
        """
        self.redis = redis
        self.keys = keys

    async def wordings(self) -> Mapping[str, AbstractSet[str]]:
        """Every dismissed wording, per language."""
        pipe = self.redis.pipeline(transaction=False)
        for language in LANGUAGES:
            pipe.hkeys(self.keys.dismissed_questions(language))
        return {language: set(found) for language, found in zip(LANGUAGES, await pipe.execute(), strict=True)}

    async def dismiss(self, groups: Iterable[QuestionGroup], agent: str) -> int:
        """Dismisses the groups' wordings; returns how many groups."""
        stamp = json.dumps({"by": agent, "at": round(time.time())})
        by_language: Dict[str, Dict[str | bytes, bytes | float | int | str]] = {}
        count = 0
        for group in groups:
            count += 1
            for wording in group.variants:
                by_language.setdefault(group.language, {})[plain_wording(wording)] = stamp
        if by_language:
            pipe = self.redis.pipeline(transaction=True)
            for language, fields in by_language.items():
                pipe.hset(self.keys.dismissed_questions(language), mapping=fields)
            await pipe.execute()
        return count
