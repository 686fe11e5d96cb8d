"""What the channels share inside one ``rasa run`` process: Redis, the router, delivery, pushes.

The first Kesher channel whose blueprint is registered starts it (in
``before_server_start``, never while objects are built); every channel uses
the same instance.
"""

from __future__ import annotations

import asyncio
import json
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, List, Optional

from redis.asyncio import Redis
from redis.exceptions import RedisError

from bot.settings import Settings
from handoff.agents import load_agents
from handoff.desk import Desk
from handoff.identity import IdentityBook
from handoff.mail.outbox import MailOutbox
from handoff.models import OutboundMessage
from handoff.policy import load_policy
from handoff.rasa_client import RasaClient
from handoff.redis_keys import RedisKeys
from handoff.router import HandoffRouter
from handoff.state import HandoffStore
from handoff.tasks import cancel_and_wait

if TYPE_CHECKING:
    from connectors.base import KesherInputChannel
    from connectors.delivery import DeliveryWorker

__all__ = ["OUTBOUND_MAXLEN", "Runtime", "runtime"]

log = logging.getLogger(__name__)

OUTBOUND_MAXLEN = 20_000


@dataclass
class Runtime:
    """The process-wide connection state of the channels."""

    settings: Optional[Settings] = None
    channels: Dict[str, KesherInputChannel] = field(default_factory=dict)
    redis: Optional[Redis] = None
    store: Optional[HandoffStore] = None
    router: Optional[HandoffRouter] = None
    worker: Optional[DeliveryWorker] = None
    identity: Optional[IdentityBook] = None
    _tasks: List[asyncio.Task[None]] = field(default_factory=list)
    _stop: Optional[asyncio.Event] = None
    _users: int = 0

    # -- typed access once started -------------------------------------------------
    @property
    def redis_client(self) -> Redis:
        """The Redis client (the runtime must be started)."""
        assert self.redis is not None, "the channel runtime is not started"
        return self.redis

    @property
    def keys(self) -> RedisKeys:
        """The Redis key builder."""
        assert self.store is not None, "the channel runtime is not started"
        return self.store.keys

    @property
    def identity_book(self) -> IdentityBook:
        """Addresses → conversations."""
        assert self.identity is not None, "the channel runtime is not started"
        return self.identity

    @property
    def default_language(self) -> str:
        """The language used before a customer has written a word."""
        return (self.settings or Settings.from_env()).default_language

    # -- lifecycle -------------------------------------------------------------------------
    def register(self, channel: KesherInputChannel) -> None:
        """Makes a channel reachable for outbound delivery by its name."""
        self.channels[channel.name()] = channel

    async def start(self) -> None:
        """Opens Redis and starts the delivery worker and the signal reader (once per process)."""
        self._users += 1
        if self.redis is not None:
            return
        from connectors.delivery import DeliveryWorker

        if self.settings is None:
            self.settings = Settings.from_env()
        settings = self.settings
        self.redis = settings.redis_client()
        self.store = HandoffStore(self.redis, RedisKeys())
        desk = Desk(
            self.store,
            load_policy(settings.handoff_policy),
            load_agents(settings.agents_file),
            outbox=MailOutbox(self.redis, self.store.keys),
            rasa=RasaClient(settings.rasa_url, settings.rasa_api_token),
        )
        self.identity = desk.identity
        self.router = HandoffRouter(desk)
        self.worker = DeliveryWorker(self.store, self.channels)
        self._stop = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self.worker.run(self._stop)),
            asyncio.create_task(self._read_signals(self._stop)),
        ]

    async def stop(self) -> None:
        """Stops the worker and closes Redis when the last channel stops."""
        self._users -= 1
        if self._users > 0 or self.redis is None:
            return
        if self._stop is not None:
            self._stop.set()
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []
        if self.router is not None and self.router.desk.rasa is not None:
            await self.router.desk.rasa.close()
        for channel in self.channels.values():
            await channel.close()
        await self.redis.close()
        self.redis = None

    # -- shared operations ----------------------------------------------------------------
    async def queue_outbound(self, message: OutboundMessage) -> None:
        """Puts a message for a customer on the outbound stream (the delivery worker sends it)."""
        await self.redis_client.xadd(self.keys.outbound(), message.to_redis(),
                                     maxlen=OUTBOUND_MAXLEN, approximate=True)

    async def language_of(self, cid: str) -> str:
        """The language of the customer's handoff record, or the default language."""
        language = await self.redis_client.hget(self.keys.conversation(cid), "language")
        return str(language) if language in ("he", "en") else self.default_language

    async def publish(self, signal: Dict[str, Any]) -> None:
        """Pushes a signal to every process's connected customers (see :meth:`_read_signals`)."""
        await self.redis_client.publish(self.keys.customer_signals(), json.dumps(signal, ensure_ascii=False))

    async def _read_signals(self, stop: asyncio.Event) -> None:
        """Hands each ``customer-signals`` message to every channel of this process."""
        while not stop.is_set():
            pubsub = self.redis_client.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys.customer_signals())
                while not stop.is_set():
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    signal = json.loads(message["data"])
                    for channel in list(self.channels.values()):
                        await channel.on_signal(signal)
            except RedisError as exc:
                log.warning("signals: redis error %s; resubscribing", exc)
                await asyncio.sleep(1)
            finally:
                await pubsub.close()


runtime = Runtime()
