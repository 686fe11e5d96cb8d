"""What the channels share inside one ``rasa run`` process: Redis, the router, delivery.

The first Kesher channel whose blueprint is registered starts it (in
``before_server_start``, never while objects are built); every channel uses
the same instance.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Dict, Optional

from redis.asyncio import Redis

from bot.settings import Settings
from handoff.agents import load_agents
from handoff.desk import Desk
from handoff.policy import load_policy
from handoff.rasa_client import RasaClient
from handoff.redis_keys import RedisKeys
from handoff.router import HandoffRouter
from handoff.state import HandoffStore
from handoff.tasks import cancel_and_wait

if TYPE_CHECKING:
    from connectors.base import KesherInputChannel
    from connectors.delivery import DeliveryWorker

__all__ = ["Runtime", "runtime"]

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """The process-wide connection state of the channels."""

    settings: Optional[Settings] = None
    channels: Dict[str, KesherInputChannel] = field(default_factory=dict)
    redis: Optional[Redis] = None
    store: Optional[HandoffStore] = None
    router: Optional[HandoffRouter] = None
    worker: Optional[DeliveryWorker] = None
    _task: Optional[asyncio.Task[None]] = None
    _stop: Optional[asyncio.Event] = None
    _users: int = 0

    def register(self, channel: KesherInputChannel) -> None:
        """Makes a channel reachable for outbound delivery by its name."""
        self.channels[channel.name()] = channel

    async def start(self) -> None:
        """Opens Redis and starts the delivery worker (once per process)."""
        self._users += 1
        if self.redis is not None:
            return
        from connectors.delivery import DeliveryWorker

        settings = self.settings or Settings.from_env()
        self.redis = settings.redis_client()
        self.store = HandoffStore(self.redis, RedisKeys())
        outbox: Any = None
        try:
            from handoff.mail.outbox import MailOutbox

            outbox = MailOutbox(self.redis, self.store.keys)
        except ImportError:  # pragma: no cover - the mail package ships with the service
            outbox = None
        desk = Desk(
            self.store,
            load_policy(settings.handoff_policy),
            load_agents(settings.agents_file),
            outbox=outbox,
            rasa=RasaClient(settings.rasa_url, settings.rasa_api_token),
        )
        self.router = HandoffRouter(desk)
        self.worker = DeliveryWorker(self.store, self.channels)
        self._stop = asyncio.Event()
        self._task = asyncio.create_task(self.worker.run(self._stop))

    async def stop(self) -> None:
        """Stops the worker and closes Redis when the last channel stops."""
        self._users -= 1
        if self._users > 0 or self.redis is None:
            return
        if self._stop is not None:
            self._stop.set()
        await cancel_and_wait(self._task)
        if self.router is not None and self.router.desk.rasa is not None:
            await self.router.desk.rasa.close()
        for channel in self.channels.values():
            await channel.close()
        await self.redis.close()
        self.redis = None


runtime = Runtime()
