"""The handoff service: ``create_app(settings)`` builds the Sanic app.

Features attach themselves with ``setup_x(app)``: the desk and its assigner
(here), the agent console (``handoff.console``), the e-mail outbox and worker
(``handoff.mail``). Connections open in ``before_server_start`` and live on
``app.ctx``: ``settings``, ``policy``, ``agents``, ``redis``, ``store``,
``rasa``, ``desk`` (plus what the console and the mail set up add).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json

from actions.orders.repository import SqlOrderRepository
from bot.settings import Settings
from handoff.agents import load_agents
from handoff.assigner import Assigner, DeskLoop
from handoff.desk import Desk
from handoff.errors import HandoffError
from handoff.policy import load_policy
from handoff.rasa_client import RasaClient
from handoff.redis_keys import RedisKeys
from handoff.state import HandoffStore
from handoff.tasks import cancel_and_wait

__all__ = ["create_app", "setup_desk", "setup_errors"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024


def setup_errors(app: Sanic) -> None:
    """Maps every :class:`HandoffError` to its status with a JSON (API) or text message."""

    @app.exception(HandoffError)
    async def _handoff_error(request: Request, exc: HandoffError) -> HTTPResponse:
        status = int(getattr(exc, "status_code", 400))
        return json({"error": str(exc), "status": status}, status=status)


def setup_desk(app: Sanic) -> None:
    """Opens Redis, builds the store, the desk and the assigner loop."""

    @app.before_server_start
    async def _open(app: Sanic, _loop: Any) -> None:
        settings: Settings = app.ctx.settings
        app.ctx.redis = settings.redis_client()
        await app.ctx.redis.ping()
        app.ctx.store = HandoffStore(app.ctx.redis, RedisKeys())
        app.ctx.rasa = RasaClient(settings.rasa_url, settings.rasa_api_token)
        orders = SqlOrderRepository.from_url(settings.orders_db_url)
        app.ctx.desk = Desk(app.ctx.store, app.ctx.policy, app.ctx.agents, outbox=None,
                            rasa=app.ctx.rasa, orders=orders)
        app.ctx.stop = asyncio.Event()

    @app.after_server_start
    async def _loop(app: Sanic, _loop: Any) -> None:
        app.ctx.desk.outbox = getattr(app.ctx, "outbox", None)
        loop = DeskLoop(Assigner(app.ctx.desk, auto_assign=app.ctx.auto_assign))
        app.ctx.desk_task = asyncio.create_task(loop.run(app.ctx.stop))

    @app.before_server_stop
    async def _close(app: Sanic, _loop: Any) -> None:
        app.ctx.stop.set()
        await cancel_and_wait(getattr(app.ctx, "desk_task", None))
        await app.ctx.rasa.close()
        await app.ctx.redis.close()

    @app.get("/health")
    async def _health(request: Request) -> HTTPResponse:
        await request.app.ctx.redis.ping()
        return json({"status": "ok"})


def create_app(settings: Settings, *, name: str = "kesher-handoff", auto_assign: bool = True) -> Sanic:
    """Builds the handoff service.

    Args:
        settings: Where Redis, Rasa and the SMTP server are, and the agents file.
        name: Sanic app name (tests that build several apps pass their own).
        auto_assign: Give queued conversations to online agents automatically
            (else agents take them from the queue themselves).

    Returns:
        The app; ``app.run`` or ``python -m handoff serve`` starts it.
    """
    app = Sanic(name)
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.ctx.settings = settings
    app.ctx.policy = load_policy(settings.handoff_policy)
    app.ctx.agents = load_agents(settings.agents_file)
    app.ctx.auto_assign = auto_assign
    setup_errors(app)
    setup_desk(app)
    from handoff.mail import setup_mail

    setup_mail(app)
    from handoff.console import setup_console

    setup_console(app)
    return app
