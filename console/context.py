"""The handoff service's state, typed: what every handler and listener of the app uses.

``create_app`` builds one :class:`ServiceState` from the composition root and
keeps it on ``app.ctx.kesher``; handlers reach it with :func:`state`. Nothing
in it connects until the server runs (the Redis client connects on first use).
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import List, Optional

from jinja2 import Environment
from redis.asyncio import Redis
from sanic import Request, Sanic
from sqlalchemy.engine import Engine

from console.canned import CannedReply
from console.feed import FeedHub
from console.sessions import LoginLimiter, SessionStore
from core.settings import Settings
from core.texts import TextCatalog
from handoff.agents import AgentDirectory
from handoff.desk import Desk
from handoff.policy import HandoffPolicy
from handoff.state import HandoffStore
from wiring.container import Container

__all__ = ["ServiceState", "state"]


@dataclass
class ServiceState:
    """Everything the handoff service's handlers use.

    Attributes:
        container: The process's backends.
        jinja: The console's templates.
        canned: The canned replies.
        sessions: Console logins.
        limiter: Failed-login counter.
        hub: The live feed of the consoles.
        auto_assign: Whether queued conversations go to online agents by themselves.
        stop: Set when the server stops; the background loops end.
        tasks: The background loops that are cancelled at stop (assigner, feed).
        mail_task: The mail worker, which may finish a send in progress at stop.
    """

    container: Container
    jinja: Environment
    canned: List[CannedReply]
    sessions: SessionStore
    limiter: LoginLimiter
    hub: FeedHub
    auto_assign: bool = True
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    tasks: List[asyncio.Task[None]] = field(default_factory=list)
    mail_task: Optional[asyncio.Task[None]] = None

    @property
    def settings(self) -> Settings:
        """The process's settings."""
        return self.container.settings

    @property
    def desk(self) -> Desk:
        """Every handoff operation."""
        return self.container.desk

    @property
    def store(self) -> HandoffStore:
        """The handoff state in Redis."""
        return self.container.store

    @property
    def redis(self) -> Redis:
        """The Redis client."""
        return self.container.redis

    @property
    def agents(self) -> AgentDirectory:
        """Who may log in."""
        return self.container.agents

    @property
    def policy(self) -> HandoffPolicy:
        """Resolution codes, routing, hours."""
        return self.container.policy

    @property
    def events_engine(self) -> Engine:
        """The event log's database (blocking: query it in a worker thread)."""
        return self.container.events_engine

    @property
    def texts(self) -> TextCatalog:
        """The text catalog."""
        return self.container.texts


def state(source: Request | Sanic) -> ServiceState:
    """The service state of a request's app (or of an app).

    Raises:
        RuntimeError: The app was not built by ``console.app.create_app``.
    """
    app = source.app if isinstance(source, Request) else source
    found: Optional[ServiceState] = getattr(app.ctx, "kesher", None)
    if found is None:
        raise RuntimeError("this app has no handoff service state; build it with console.app.create_app")
    return found
