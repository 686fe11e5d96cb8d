"""Images a customer sends during a handoff: checked, kept in Redis under a random id, read back for agents.

Only still images are taken (PNG, JPEG, WebP, GIF), recognised by their first
bytes, never by the name or the type the browser claims; anything else is
refused. The bytes are stored as they came, under an unguessable id, next to
the conversation they belong to, and expire with the conversation's retention.
The console serves them to an agent who may see that conversation, with their
own type, ``nosniff`` and a sandboxing CSP, so nothing in them can run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Optional

from redis.asyncio import Redis

from core.errors import InvalidInput, TooLarge
from core.redis_keys import RedisKeys

__all__ = ["MAX_UPLOAD_BYTES", "Upload", "UploadStore", "image_type"]

MAX_UPLOAD_BYTES = 1024 * 1024  # KESHER_MAX_BODY_BYTES's default; the widget scales larger photos down
_SIGNATURES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def image_type(body: bytes) -> str:
    """The image type of ``body`` from its first bytes.

    Raises:
        TooLarge: Over :data:`MAX_UPLOAD_BYTES`.
        InvalidInput: Empty, or not a PNG, JPEG, WebP or GIF image.
    """
    if len(body) > MAX_UPLOAD_BYTES:
        raise TooLarge(f"an image may have at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB")
    for signature, content_type in _SIGNATURES:
        if body.startswith(signature):
            return content_type
    if len(body) >= 12 and body[:4] == b"RIFF" and body[8:12] == b"WEBP":
        return "image/webp"
    raise InvalidInput("only images are taken: PNG, JPEG, WebP or GIF")


@dataclass(frozen=True)
class Upload:
    """A stored image: its bytes, type and conversation."""

    body: bytes
    content_type: str
    cid: str


class UploadStore:
    """Images by random id in Redis (binary-safe: its own client without response decoding)."""

    def __init__(self, redis: Redis, keys: RedisKeys, retention_seconds: int) -> None:
        """Keeps the client (it must not decode responses), the keys and how long an image is kept."""
        self.redis = redis
        self.keys = keys
        self.retention_seconds = retention_seconds

    async def put(self, cid: str, body: bytes) -> str:
        """Checks and stores an image of conversation ``cid``; its new id.

        Raises:
            TooLarge: Over the size limit.
            InvalidInput: Not an image Kesher takes.
        """
        content_type = image_type(body)
        upload_id = secrets.token_urlsafe(18)
        key = self.keys.upload(upload_id)
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(key, mapping={"body": body, "content_type": content_type, "cid": cid})
            pipe.expire(key, self.retention_seconds)
            await pipe.execute()
        return upload_id

    async def get(self, upload_id: str) -> Optional[Upload]:
        """The image with that id, if it exists (an id of another shape is simply not found)."""
        if not upload_id or len(upload_id) > 64 or not upload_id.replace("-", "").replace("_", "").isalnum():
            return None
        raw = await self.redis.hgetall(self.keys.upload(upload_id))
        if not raw:
            return None
        return Upload(bytes(raw[b"body"]), raw[b"content_type"].decode(), raw[b"cid"].decode())
