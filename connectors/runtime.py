"""What the channels of one ``rasa run`` process share: the backends, delivery and pushes.

Rasa builds each channel from ``credentials.yml`` with no way to pass it
anything; so when the server starts, the first Kesher channel asks
:meth:`ChannelRuntime.of` for the app's runtime, which is built once from the
composition root (``wiring.container``) and kept on ``app.ctx``. Every channel
of the app uses it: one Redis client, one router, one delivery worker, one
reader of the pushes for connected customers. Tests build their own.
"""

from __future__ import annotations

import asyncio
import json
import logging
from concurrent.futures import Future
from typing import Any, Callable, ContextManager, Dict, List, Optional, Protocol

from redis.asyncio import Redis
from redis.exceptions import RedisError
from sanic import Sanic

from bot.components.sentence_encoder import awaited_by_parse, prefetch
from bot.lock_store import RedisTicketLockStore
from connectors.delivery import DeliveryTimings, DeliveryWorker, Sender
from core.language import Language, as_language
from core.logs import install_log_redaction
from core.redis_keys import RedisKeys
from core.settings import Settings
from core.tasks import cancel_and_wait
from core.texts import TextCatalog
from handoff.identity import IdentityBook
from handoff.models import OutboundMessage
from handoff.router import HandoffRouter
from handoff.state import HandoffStore
from wiring.container import Container

__all__ = ["OUTBOUND_MAXLEN", "Channel", "ChannelRuntime"]

log = logging.getLogger(__name__)

OUTBOUND_MAXLEN = 20_000


class Channel(Sender, Protocol):
    """What the runtime needs of a channel: its name, sending, pushes and closing."""

    @classmethod
    def name(cls) -> str:
        """The channel's name in routes and on the outbound stream."""
        ...

    async def on_signal(self, signal: Dict[str, Any]) -> None:
        """A push for connected customers."""
        ...

    async def close(self) -> None:
        """Releases the channel's clients."""
        ...


class ChannelRuntime:
    """The process-wide state of the channels (see the module docstring)."""

    def __init__(self, container: Container, *, delivery: Optional[DeliveryTimings] = None) -> None:
        """Takes the backends from the container; connects nothing until :meth:`start`.

        Args:
            container: The composition root of this process.
            delivery: The delivery worker's timings (default: from the settings; tests pass short ones).
        """
        self.container = container
        self.settings: Settings = container.settings
        install_log_redaction(self.settings)
        self.redis: Redis = container.redis
        self.keys: RedisKeys = container.keys
        self.store: HandoffStore = container.store
        self.router: HandoffRouter = container.router
        self.identity: IdentityBook = container.identity
        self.texts: TextCatalog = container.texts
        # Starts the NLU's sentence vector of a message on a worker thread (bot.components.sentence_encoder);
        # awaited_by_parse registers it for the message, and Rasa's parse awaits it without holding up the loop.
        self.prefetch: Callable[[str], Optional[Future[Any]]] = prefetch
        self.awaited_by_parse: Callable[[str, Optional[Future[Any]]], ContextManager[None]] = awaited_by_parse
        # Messages from one address are handled one at a time, in the order they arrived at any replica.
        self.arrivals = RedisTicketLockStore(key_prefix=self.keys.arrivals_prefix(), redis=lambda: self.redis)
        self.channels: Dict[str, Channel] = {}
        timings = delivery or DeliveryTimings.from_settings(self.settings)
        self.worker = DeliveryWorker(self.store, self.channels, timings)
        self._tasks: List[asyncio.Task[None]] = []
        self._stop = asyncio.Event()
        self._users = 0

    @classmethod
    def of(cls, app: Sanic) -> ChannelRuntime:
        """The app's runtime, built from the environment's settings the first time."""
        runtime: Optional[ChannelRuntime] = getattr(app.ctx, "kesher_channels", None)
        if runtime is None:
            runtime = cls(Container(Settings.from_env()))
            app.ctx.kesher_channels = runtime
        return runtime

    @property
    def default_language(self) -> Language:
        """The language used before a customer has written a word."""
        return as_language(self.settings.default_language)

    # -- lifecycle -------------------------------------------------------------------------
    def register(self, channel: Channel) -> None:
        """Makes a channel reachable for outbound delivery by its name."""
        self.channels[channel.name()] = channel

    async def start(self) -> None:
        """Starts the delivery worker and the signal reader (once, however many channels start)."""
        self._users += 1
        if self._tasks:
            return
        self._stop = asyncio.Event()
        self._tasks = [
            asyncio.create_task(self.worker.run(self._stop)),
            asyncio.create_task(self._read_signals(self._stop)),
        ]

    async def stop(self) -> None:
        """Stops the worker and closes the connections when the last channel stops."""
        self._users -= 1
        if self._users > 0 or not self._tasks:
            return
        self._stop.set()
        for task in self._tasks:
            await cancel_and_wait(task)
        self._tasks = []
        for channel in self.channels.values():
            await channel.close()
        await self.container.close()

    # -- shared operations ----------------------------------------------------------------
    async def queue_outbound(self, message: OutboundMessage) -> None:
        """Puts a message for a customer on the outbound stream (the delivery worker sends it)."""
        await self.store.queue_outbound(message, OUTBOUND_MAXLEN)

    async def language_of(self, cid: str) -> Language:
        """The language of the customer's handoff record, or the default language."""
        language = await self.redis.hget(self.keys.conversation(cid), "language")
        return as_language(language, self.default_language)

    async def publish(self, signal: Dict[str, Any]) -> None:
        """Pushes a signal to every process's connected customers (see :meth:`_read_signals`)."""
        await self.redis.publish(self.keys.customer_signals(), json.dumps(signal, ensure_ascii=False))

    async def _read_signals(self, stop: asyncio.Event) -> None:
        """Hands each ``customer-signals`` message to every channel of this process."""
        while not stop.is_set():
            pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.keys.customer_signals())
                while not stop.is_set():
                    message = await pubsub.get_message(timeout=1.0)
                    if message is None or message.get("type") != "message":
                        continue
                    signal = json.loads(message["data"])
                    for channel in list(self.channels.values()):
                        try:
                            await channel.on_signal(signal)
                        except Exception:  # one channel's trouble must not end every channel's signals
                            log.exception("signals: channel %s failed on a %s signal; carrying on",
                                          channel.name(), signal.get("kind"))
            except RedisError as exc:
                log.warning("signals: redis error %s; resubscribing", exc)
                await asyncio.sleep(1)
            finally:
                await pubsub.close()
