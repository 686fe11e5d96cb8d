"""The event log's mover in the handoff service: started with the server, stopped before its connections close.

``setup_event_log(app)`` runs one :class:`analytics.mover.EventMover` per handoff
service process (a consumer of its own on the service-events stream) while the server
runs, unless ``KESHER_EVENT_LOG`` is off. The mover writes to the database of
``KESHER_EVENTS_DB_URL`` in worker threads, never on the event loop.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Optional

from sanic import Sanic

from console.context import state
from core.tasks import cancel_and_wait

__all__ = ["STOP_SECONDS", "setup_event_log"]

log = logging.getLogger(__name__)

STOP_SECONDS = 10.0  # an insert in progress may finish; what is not acknowledged stays in Redis


def setup_event_log(app: Sanic, **mover_options: float) -> None:
    """Moves service events into the event log's database while the server runs.

    Args:
        app: The handoff service (built by ``console.app.create_app``).
        **mover_options: Passed to :class:`analytics.mover.EventMover` (tests shorten its waits).
    """

    @app.after_server_start
    async def _start_mover(app: Sanic, _loop: Any) -> None:
        service = state(app)
        app.ctx.event_mover = None
        app.ctx.event_mover_stop = asyncio.Event()
        app.ctx.event_mover_task = None
        if not service.settings.event_log:
            log.info("event log off (KESHER_EVENT_LOG): no service events are recorded")
            return
        mover = service.container.event_mover(**mover_options)
        app.ctx.event_mover = mover
        app.ctx.event_mover_task = asyncio.create_task(mover.run(app.ctx.event_mover_stop), name="kesher-event-mover")

    # Sanic runs "before stop" listeners in reverse order: this one, added after setup_workers', runs
    # before the container (and its Redis client) is closed.
    @app.before_server_stop
    async def _stop_mover(app: Sanic, _loop: Any) -> None:
        stop: Optional[asyncio.Event] = getattr(app.ctx, "event_mover_stop", None)
        task: Optional[asyncio.Task[None]] = getattr(app.ctx, "event_mover_task", None)
        if stop is None or task is None:
            return
        stop.set()
        try:
            await asyncio.wait_for(asyncio.shield(task), timeout=STOP_SECONDS)
        except TimeoutError:
            log.warning("event log mover did not stop in time; cancelled (unacknowledged events stay in Redis)")
            await cancel_and_wait(task)
