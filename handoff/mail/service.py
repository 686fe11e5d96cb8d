"""Wires the e-mail outbox and its worker into the handoff Sanic app."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Optional

from sanic import Sanic

from handoff.mail.outbox import SMTP_TIMEOUT_SECONDS, Clock, MailOutbox, MailWorker

__all__ = ["setup_mail"]

log = logging.getLogger(__name__)


def setup_mail(app: Sanic, *, clock: Clock = time.time, poll_seconds: float = 1.0) -> None:
    """Gives the app an e-mail outbox and runs the worker that sends it.

    Call it after the listener that sets ``app.ctx.redis``, ``app.ctx.store``,
    ``app.ctx.agents`` and ``app.ctx.settings`` is registered: listeners of one
    event run in registration order (and stop listeners in reverse, so the
    worker stops before Redis closes).

    * ``before_server_start``: ``app.ctx.outbox`` = a :class:`MailOutbox` on the
      store's Redis and keys, unless the app already built one; a Desk built
      without an outbox gets it.
    * ``after_server_start``: starts a :class:`MailWorker` as a background task
      (``app.ctx.mail_worker``, ``app.ctx.mail_task``).
    * ``before_server_stop``: stops the worker, letting a send in progress finish.

    Args:
        app: The handoff app.
        clock: Returns epoch seconds (tests move it).
        poll_seconds: How often the worker looks for due mail.
    """

    @app.before_server_start
    async def _mail_outbox(app: Sanic, _loop: Any) -> None:
        ctx = app.ctx
        if getattr(ctx, "outbox", None) is None:
            ctx.outbox = MailOutbox(ctx.redis, ctx.store.keys, clock)
        desk = getattr(ctx, "desk", None)
        if desk is not None and getattr(desk, "outbox", None) is None:
            desk.outbox = ctx.outbox

    @app.after_server_start
    async def _mail_worker(app: Sanic, _loop: Any) -> None:
        ctx = app.ctx
        desk = getattr(ctx, "desk", None)
        if desk is not None and getattr(desk, "outbox", None) is None:
            desk.outbox = ctx.outbox
        ctx.mail_stop = asyncio.Event()
        ctx.mail_worker = MailWorker(
            ctx.redis, ctx.store.keys, ctx.store, ctx.agents, ctx.settings, clock, poll_seconds=poll_seconds
        )
        # Not app.add_task: under app.create_server (tests, embedding) Sanic 21.12 has no app.loop and
        # add_task tries to register a signal on the already finalized router.
        ctx.mail_task = asyncio.get_running_loop().create_task(
            ctx.mail_worker.run(ctx.mail_stop), name="kesher-mail-worker"
        )

    @app.before_server_stop
    async def _mail_stop(app: Sanic, _loop: Any) -> None:
        stop: Optional[asyncio.Event] = getattr(app.ctx, "mail_stop", None)
        task: Optional[asyncio.Task[None]] = getattr(app.ctx, "mail_task", None)
        if stop is None or task is None:
            return
        stop.set()
        try:
            await asyncio.wait_for(task, timeout=SMTP_TIMEOUT_SECONDS + 5)
        except TimeoutError:
            log.warning("mail worker did not stop in time; cancelled (unsent jobs stay queued)")
        except asyncio.CancelledError:
            pass
