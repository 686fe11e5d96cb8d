"""An ``email_sent`` event is recorded once the SMTP server accepted the mail, and not before."""

from __future__ import annotations

from pathlib import Path
from typing import List

from redis.asyncio import Redis

from core.processes import free_port
from core.redis_keys import RedisKeys
from core.service_events import ServiceEvent
from core.settings import Settings
from handoff.models import HandoffRequest
from tests.helpers.redis_server import RedisServer
from tests.helpers.smtp import SmtpSink
from wiring.container import Container

CID = "web:mail-events"
CONTACT = "web:mail-events@1700000000"


def container_for(redis_server: RedisServer, tmp_path: Path, smtp_port: int) -> Container:
    settings = Settings(var_dir=tmp_path, smtp_port=smtp_port).with_ports(redis=redis_server.port, rasa=free_port(),
                                                                         actions=free_port())
    container = Container(settings)
    container.keys = RedisKeys("mailevents:")
    return container


async def sent_events(redis: Redis) -> List[ServiceEvent]:
    entries = await redis.xrange(RedisKeys("mailevents:").service_events())
    return [e for e in (ServiceEvent.from_fields(fields) for _, fields in entries) if e.kind == "email_sent"]


async def request_with_email(container: Container) -> None:
    await container.desk.request(HandoffRequest(
        cid=CID, channel="web", language="en", reason="explicit_request", reference="K-MA1L01", contact=CONTACT,
        email="noa.cohen@example.com", verified_order="100234",
    ))


async def test_a_mail_the_server_accepted_is_recorded(redis_server: RedisServer, redis_client: Redis,
                                                      smtp_sink: SmtpSink, tmp_path: Path) -> None:
    container = container_for(redis_server, tmp_path, smtp_sink.port)
    try:
        await request_with_email(container)
        assert await container.mail_worker().run_once() == 1
        assert len(smtp_sink.messages) == 1
        [sent] = await sent_events(redis_client)
        assert (sent.conversation, sent.contact, sent.channel, sent.language, sent.reason) == (
            CID, CONTACT, "web", "en", "handoff_summary")
    finally:
        await container.close()


async def test_a_mail_that_did_not_go_is_not_recorded(redis_server: RedisServer, redis_client: Redis,
                                                      tmp_path: Path) -> None:
    container = container_for(redis_server, tmp_path, free_port())  # nothing listens there
    try:
        await request_with_email(container)
        assert await container.mail_worker().run_once() == 0
        assert await sent_events(redis_client) == []
        assert len(await container.outbox.pending()) == 1  # it waits for the server
    finally:
        await container.close()
