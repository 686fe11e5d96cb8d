"""The handoff service: ``create_app(settings)`` builds the Sanic app of the agent console.

Its parts attach themselves in order: the state (``console.context``, from the
composition root), the errors (``edge.errors``), the background loops (the
assigner, the mail worker, the consoles' live feed, the event log's mover in
``console.event_log``) and the pages: the desk
and its API (``routes``), the live channel (``live``), the mail pages
(``mailbox``), the writers' pages (``writers``, ``questions``), the
manager's dashboard (``dashboard``), presence (``presence``: heartbeats and the
away sweeper) and the supervisor's live view (``supervisor``).
``python -m kesher serve handoff`` runs it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, json

from console import desk_api, live, mailbox, questions, routes, writers
from console.callbacks import setup_callbacks
from console.canned import canned_replies
from console.context import ServiceState, state
from console.dashboard import setup_dashboard
from console.event_log import setup_event_log
from console.feed import FeedHub
from console.metrics import read_handoff_gauges
from console.order_actions import setup_order_actions
from console.presence import setup_presence
from console.sessions import LoginLimiter, SessionStore
from console.supervisor import setup_supervisor
from console.undelivered import setup_undelivered
from console.uploads import setup_uploads
from console.web import build_jinja, localized_error
from core.settings import Settings
from core.tasks import cancel_and_wait
from edge.errors import SafeErrorHandler, setup_errors
from edge.metrics import setup_metrics
from handoff.mail.outbox import SMTP_TIMEOUT_SECONDS
from wiring.container import Container

__all__ = ["MAX_BODY_BYTES", "create_app", "setup_health", "setup_workers"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024


def setup_workers(app: Sanic, *, mail_poll_seconds: float = 1.0) -> None:
    """Runs the assigner, the mail worker, the consoles' feed and the late-order scan while the server runs.

    Args:
        app: The handoff service.
        mail_poll_seconds: How often the mail worker looks for due mail.
    """

    @app.after_server_start
    async def _start(app: Sanic, _loop: Any) -> None:
        service = state(app)
        service.stop = asyncio.Event()
        desk_loop = service.container.desk_loop(auto_assign=service.auto_assign)
        mail_worker = service.container.mail_worker(poll_seconds=mail_poll_seconds)
        # Not app.add_task: under app.create_server (tests, embedding) Sanic 21.12 has no app.loop and
        # add_task tries to register a signal on the already finalized router.
        service.tasks = [
            asyncio.create_task(desk_loop.run(service.stop), name="kesher-assigner"),
            asyncio.create_task(service.hub.run(service.stop), name="kesher-console-feed"),
            asyncio.create_task(service.container.notice_scanner().run(service.stop), name="kesher-notice-scan"),
        ]
        service.mail_task = asyncio.create_task(mail_worker.run(service.stop), name="kesher-mail-worker")

    @app.before_server_stop
    async def _stop(app: Sanic, _loop: Any) -> None:
        service = state(app)
        service.stop.set()
        for sub in list(service.hub.subscribers):
            sub.stop(1001)
        for task in service.tasks:
            await cancel_and_wait(task)
        mail_task: Optional[asyncio.Task[None]] = service.mail_task
        if mail_task is not None:
            # A send in progress may finish; unsent jobs stay queued in Redis.
            try:
                await asyncio.wait_for(mail_task, timeout=SMTP_TIMEOUT_SECONDS + 5)
            except TimeoutError:
                log.warning("mail worker did not stop in time; cancelled (unsent jobs stay queued)")
        await service.container.close()


def setup_health(app: Sanic) -> None:
    """``GET /health``: 200 once Redis answers."""

    @app.get("/health")
    async def _health(request: Request) -> HTTPResponse:
        await state(request).redis.ping()
        return json({"status": "ok"})


def create_app(
    settings: Settings,
    *,
    container: Optional[Container] = None,
    name: str = "kesher-handoff",
    auto_assign: Optional[bool] = None,
    mail_poll_seconds: float = 1.0,
) -> Sanic:
    """Builds the handoff service.

    Args:
        settings: Where Redis, Rasa and the SMTP server are, and the agents file.
        container: The backends (default: a new one from ``settings``; tests pass one with a clock).
        name: Sanic app name (tests that build several apps pass their own).
        auto_assign: Give queued conversations to online agents automatically (default: the
            ``manual_assign`` setting says).
        mail_poll_seconds: How often the mail worker looks for due mail.

    Returns:
        The app; ``app.run`` or ``python -m kesher serve handoff`` starts it.
    """
    container = container or Container(settings)
    app = Sanic(name, error_handler=SafeErrorHandler())
    app.config.REQUEST_MAX_SIZE = MAX_BODY_BYTES
    app.config.FALLBACK_ERROR_FORMAT = "json"
    app.ctx.kesher = ServiceState(
        container=container,
        jinja=build_jinja(),
        canned=canned_replies(container.texts),
        sessions=SessionStore.from_settings(container.redis, container.keys, settings),
        limiter=LoginLimiter(container.redis, container.keys),
        hub=FeedHub(container.desk, container.redis, container.keys),
        auto_assign=(not settings.manual_assign) if auto_assign is None else auto_assign,
    )
    setup_errors(app, localized_error)
    setup_workers(app, mail_poll_seconds=mail_poll_seconds)
    setup_presence(app)  # after the workers: its sweeper joins the tasks they start
    setup_event_log(app)
    setup_health(app)

    async def handoff() -> Any:
        return await read_handoff_gauges(container.redis, container.keys, [a.agent_id for a in container.agents.all()])

    setup_metrics(app, [handoff])
    for blueprint in (routes.bp, live.bp, mailbox.bp, writers.bp, questions.bp, desk_api.bp):
        app.blueprint(blueprint)
    setup_undelivered(app)
    setup_order_actions(app)
    setup_callbacks(app)
    setup_uploads(app)
    setup_dashboard(app)
    setup_supervisor(app)
    return app
