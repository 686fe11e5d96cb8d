"""A handoff's events carry the bot session it came from, even when the action could not see the session's start."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from core.processes import free_port
from core.redis_keys import RedisKeys
from core.service_events import ServiceEvent
from core.settings import Settings
from handoff.models import HandoffRequest
from tests.helpers.redis_server import RedisServer
from wiring.container import Container

KEYS = RedisKeys("deskevents:")


async def test_a_request_without_a_contact_takes_the_one_the_tracker_store_kept(
    redis_server: RedisServer, redis_client: Redis, tmp_path: Path
) -> None:
    settings = Settings(var_dir=tmp_path).with_ports(redis=redis_server.port, rasa=free_port(), actions=free_port())
    container = Container(settings)
    container.keys = KEYS
    try:
        # What the tracker store wrote when the session started, a hundred messages before the handoff.
        await redis_client.set(KEYS.session_contact("web:long"), "web:long@1700000000")
        await container.desk.request(HandoffRequest(cid="web:long", channel="web", language="he",
                                                    reason="explicit_request", reference="K-L0NG01"))
        conv = await container.store.get("web:long")
        assert conv is not None and conv.contact == "web:long@1700000000"
        [queued] = [ServiceEvent.from_fields(f) for _, f in await redis_client.xrange(KEYS.service_events())]
        assert (queued.kind, queued.contact, queued.reason) == ("handoff_queued", "web:long@1700000000",
                                                                "explicit_request")
    finally:
        await container.close()
