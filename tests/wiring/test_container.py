"""The composition root builds each backend once, from the settings, wired to each other, without connecting."""

from __future__ import annotations

from pathlib import Path

from redis.asyncio import Redis

from core.processes import free_port
from core.settings import Settings
from tests.helpers.redis_server import RedisServer
from wiring.container import Container


async def test_every_backend_is_built_once_and_shares_the_same_parts(tmp_path: Path) -> None:
    container = Container(Settings(var_dir=tmp_path))
    desk = container.desk
    assert desk is container.desk and container.router.desk is desk
    assert desk.store is container.store and desk.outbox is container.outbox
    assert desk.identity is container.identity and desk.orders is container.orders
    assert desk.texts is container.texts and desk.rasa is container.rasa
    assert container.store.redis is container.redis is container.identity.redis
    backends = container.action_backends()
    assert backends.handoff is desk and backends.orders is container.orders and backends.texts is container.texts
    worker = container.mail_worker()
    assert worker.outbox is container.outbox and worker.store is container.store
    await container.close()


async def test_building_connects_nothing(tmp_path: Path) -> None:
    # Nothing listens on these ports: building everything must not notice.
    settings = Settings(var_dir=tmp_path, orders_db_url=f"postgresql://kesher@127.0.0.1:{free_port()}/orders")
    container = Container(settings.with_ports(redis=free_port(), rasa=free_port(), actions=free_port()))
    assert container.desk and container.router and container.action_backends() and container.desk_loop()
    await container.close()


async def test_the_backends_work_on_the_configured_redis(redis_server: RedisServer, redis_client: Redis,
                                                         tmp_path: Path) -> None:
    container = Container(Settings(var_dir=tmp_path).with_ports(redis=redis_server.port, rasa=1, actions=1))
    try:
        await container.identity.verified("web:abc", "noa@example.com")
        # The same customer verified on WhatsApp is led back to the web conversation, through that Redis.
        link = await container.identity.verified("whatsapp:+972501234567", "Noa@Example.com")
        assert link.linked and link.cid == "web:abc"
        assert await container.identity.resolve("whatsapp", "+972501234567") == "web:abc"
        assert [k async for k in redis_client.scan_iter(match=container.keys.prefix + "contact:*")]
    finally:
        await container.close()
