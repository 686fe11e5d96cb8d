"""The handoff service runs its workers while it serves: queued e-mail goes out, and all stop cleanly."""

from __future__ import annotations

import itertools
from pathlib import Path

import httpx

from console.app import create_app
from console.context import state
from core.settings import Settings
from handoff.models import HandoffRequest
from tests.helpers.redis_server import RedisServer
from tests.helpers.sanic_server import serving
from tests.helpers.smtp import SmtpSink
from tests.helpers.waiting import until
from wiring.container import Container

_names = itertools.count()


async def test_the_service_sends_queued_mail_in_the_background_and_stops_its_workers(
    redis_server: RedisServer, redis_client: object, smtp_sink: SmtpSink, tmp_path: Path
) -> None:
    settings = Settings(var_dir=tmp_path).with_ports(redis=redis_server.port, rasa=1, actions=1, smtp=smtp_sink.port)
    container = Container(settings)
    app = create_app(settings, container=container, name=f"handoff_service_{next(_names)}", mail_poll_seconds=0.05)
    async with serving(app) as base, httpx.AsyncClient() as http:
        assert (await http.get(f"{base}/health")).json() == {"status": "ok"}
        await container.store.request(HandoffRequest(cid="c1", channel="web", language="en",
                                                     reason="explicit_request", reference="K-SVC001",
                                                     email="noa@example.com"))
        assert await container.outbox.enqueue("handoff", "c1", "handoff:K-SVC001")
        await until(lambda: smtp_sink.messages, what="the queued e-mail at the SMTP server")
        assert len(smtp_sink.messages) == 1 and "K-SVC001" in smtp_sink.messages[0]["Subject"]
        service = state(app)
    assert service.mail_task is not None and service.mail_task.done()
    assert all(task.done() for task in service.tasks)
