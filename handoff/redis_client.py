"""Every Redis client Kesher creates, made in one place: plain Redis, or the primary Redis Sentinel names.

With ``REDIS_SENTINELS`` set (``host:port,host:port,...``), a client asks those
sentinels for the primary of ``REDIS_SENTINEL_MASTER`` on each new connection,
and after a failover its broken connections reconnect to the new primary.
Without sentinels it connects to ``REDIS_HOST:REDIS_PORT``.

A command that meets a broken connection (Redis restarted, a failover) is sent
again on a new one, up to :data:`RETRIES` times with a short backoff: without
that, every connection a process had pooled fails its next command once after
Redis comes back (the console answered 500, ``rasa run`` fell back to an empty
in-memory tracker for that turn). The one case this can repeat a command is
Redis dying after it ran it and before it answered; the caller's own retry (a
provider re-sending a webhook) would repeat it just the same.
The asyncio clients serve the processes (:func:`async_redis`); the synchronous
one serves the supervisor's readiness check and scripts (:func:`sync_redis`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Dict, Optional, Tuple

import redis
import redis.asyncio
import redis.asyncio.retry
import redis.asyncio.sentinel
import redis.retry
import redis.sentinel
from redis.backoff import ExponentialBackoff

from core.settings import Settings, parse_sentinels

__all__ = ["RedisAddress", "async_redis", "sync_redis"]

DEFAULT_MASTER = "kesher"
SENTINEL_TIMEOUT_SECONDS = 1.0
RETRIES = 3
"""Times a command is sent again after a connection error (a Redis restart takes about a second)."""
_BACKOFF = {"cap": 0.5, "base": 0.05}
# Only connection errors: after a timeout the command may have run, so it is not sent again.


@dataclass(frozen=True)
class RedisAddress:
    """Where Kesher's Redis is.

    Attributes:
        host: Redis host (without sentinels).
        port: Redis port (without sentinels).
        db: Database number.
        password: Redis password ("" for none); with sentinels, the primary's and replicas'.
        sentinels: The sentinels' addresses; empty: connect to ``host:port``.
        master: The name the sentinels monitor the primary under.
        sentinel_password: The sentinels' own password ("" for none).
    """

    host: str = "127.0.0.1"
    port: int = 6379
    db: int = 0
    password: str = ""
    sentinels: Tuple[Tuple[str, int], ...] = ()
    master: str = DEFAULT_MASTER
    sentinel_password: str = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> RedisAddress:
        """The address the settings give (``REDIS_*``)."""
        return cls(host=settings.redis_host, port=settings.redis_port, db=settings.redis_db,
                   password=settings.redis_password, sentinels=parse_sentinels(settings.redis_sentinels),
                   master=settings.redis_sentinel_master or DEFAULT_MASTER,
                   sentinel_password=settings.redis_sentinel_password)

    @classmethod
    def from_endpoint(cls, host: Optional[str], port: Any, db: Any, password: Optional[str],
                      options: Dict[str, Any]) -> RedisAddress:
        """The address of an ``endpoints.yml`` store.

        Its keys: ``url``, ``port``, ``db``, ``password``, ``sentinels``, ``sentinel_master``,
        ``sentinel_password`` (Rasa gives a variable set to nothing as an empty value).
        """
        return cls(host=host or "localhost", port=int(port or 6379), db=int(db or 0), password=password or "",
                   sentinels=parse_sentinels(str(options.get("sentinels") or "")),
                   master=str(options.get("sentinel_master") or DEFAULT_MASTER),
                   sentinel_password=str(options.get("sentinel_password") or ""))

    def sentinel_kwargs(self) -> Dict[str, Any]:
        """How to talk to the sentinels themselves (their password, a short timeout)."""
        kwargs: Dict[str, Any] = {"socket_timeout": SENTINEL_TIMEOUT_SECONDS}
        if self.sentinel_password:
            kwargs["password"] = self.sentinel_password
        return kwargs


def async_redis(address: RedisAddress, *, decode_responses: bool = True, **options: Any) -> redis.asyncio.Redis:
    """An asyncio client of Kesher's Redis (the primary, with sentinels); connects on first use.

    Args:
        address: Where Redis is.
        decode_responses: Strings in, strings out (every Kesher client but a few tools).
        options: More ``redis.asyncio.Redis`` arguments (``socket_timeout``...).
    """
    kwargs: Dict[str, Any] = {"db": address.db, "password": address.password or None,
                              "decode_responses": decode_responses,
                              "retry": redis.asyncio.retry.Retry(ExponentialBackoff(**_BACKOFF), RETRIES),
                              "retry_on_error": [redis.ConnectionError], **options}
    if address.sentinels:
        sentinel = redis.asyncio.sentinel.Sentinel(list(address.sentinels),
                                                   sentinel_kwargs=address.sentinel_kwargs())
        return sentinel.master_for(address.master, redis_class=redis.asyncio.Redis, **kwargs)
    return redis.asyncio.Redis(host=address.host, port=address.port, **kwargs)


def sync_redis(address: RedisAddress, *, decode_responses: bool = False, **options: Any) -> redis.Redis:
    """A synchronous client of Kesher's Redis (the supervisor's readiness check, tools); connects on first use."""
    kwargs: Dict[str, Any] = {"db": address.db, "password": address.password or None,
                              "decode_responses": decode_responses,
                              "retry": redis.retry.Retry(ExponentialBackoff(**_BACKOFF), RETRIES),
                              "retry_on_error": [redis.ConnectionError], **options}
    if address.sentinels:
        sentinel = redis.sentinel.Sentinel(list(address.sentinels), sentinel_kwargs=address.sentinel_kwargs())
        return sentinel.master_for(address.master, redis_class=redis.Redis, **kwargs)
    return redis.Redis(host=address.host, port=address.port, **kwargs)
