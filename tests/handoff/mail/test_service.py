"""setup_mail wires the outbox and a running worker into the Sanic app, and stops it cleanly."""

from __future__ import annotations

import asyncio
import itertools
from typing import Any

from sanic import Sanic

from bot.settings import Settings
from bot.supervisor import free_port
from handoff.agents import AgentDirectory
from handoff.mail import MailOutbox, setup_mail
from handoff.models import HandoffRequest
from handoff.state import HandoffStore
from tests.handoff.mail.conftest import SmtpSink

_names = itertools.count()


class _Desk:
    outbox: Any = None


async def test_app_sends_queued_mail_in_the_background(
    store: HandoffStore, agents: AgentDirectory, mail_settings: Settings, smtp_sink: SmtpSink
) -> None:
    app = Sanic(f"mail_service_{next(_names)}")

    @app.before_server_start
    async def _lead(app: Sanic, _loop: Any) -> None:  # what create_app does before setup_mail
        app.ctx.redis, app.ctx.store, app.ctx.agents = store.redis, store, agents
        app.ctx.settings, app.ctx.desk = mail_settings, _Desk()

    @app.get("/health")
    async def _health(request: Any) -> Any:  # Sanic will not start without a route
        return None

    setup_mail(app, poll_seconds=0.05)
    server = await app.create_server(host="127.0.0.1", port=free_port(), return_asyncio_server=True)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.after_start()
    try:
        assert isinstance(app.ctx.outbox, MailOutbox)
        assert app.ctx.desk.outbox is app.ctx.outbox  # the Desk queues into the same outbox
        await store.request(HandoffRequest(cid="c1", channel="web", language="en", reason="explicit_request",
                                           reference="K-SVC001", email="noa@example.com"))
        assert await app.ctx.outbox.enqueue("handoff", "c1", "handoff:K-SVC001")
        for _ in range(100):
            if smtp_sink.messages:
                break
            await asyncio.sleep(0.02)
        assert len(smtp_sink.messages) == 1 and "K-SVC001" in smtp_sink.messages[0]["Subject"]
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
    assert app.ctx.mail_task.done()
