"""Fixtures shared by every test; helpers live in tests/helpers/."""

from __future__ import annotations

from pathlib import Path
from typing import Any, AsyncIterator, Dict, Iterator, List

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from sanic import Sanic

from actions.backends import Backends
from core.processes import free_port
from tests.helpers.backends import make_backends
from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.fake_twilio import FakeTwilio
from tests.helpers.handoff_service import console_service, http, live_store  # noqa: F401 - registered once, here
from tests.helpers.redis_server import RedisServer, start_redis
from tests.helpers.smtp import SmtpSink
from tests.helpers.trackers import load_domain

# The fuzz tests' summary table (tests/fuzz/report.py) and the figures tests record (tests/helpers/summary.py):
# plugins, so the xdist controller prints them too.
pytest_plugins = ("tests.fuzz.report", "tests.helpers.summary")

# Sanic rewrites some of its own methods the first time an app starts ("touchup")
# and cannot do it twice in one process; in test mode it keeps the originals, so
# the many apps the tests start in this process all work.
Sanic.test_mode = True


@pytest.hookimpl(tryfirst=True)  # before xdist's own hook reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: List[pytest.Item]) -> None:
    """On two workers (``make test`` runs the slow tests with ``-n 2 --dist loadgroup``), every test of
    the whole stack runs on one worker, so one stack serves them all, and the tests that train run on
    the other."""
    for item in items:
        if item.get_closest_marker("stack"):
            item.add_marker(pytest.mark.xdist_group("stack"))
        elif item.get_closest_marker("training"):
            item.add_marker(pytest.mark.xdist_group("training"))


@pytest.fixture(scope="session")
def plain_redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real redis-server (Debian's) on a free loopback port for the session's short-lived services."""
    server = start_redis(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def console_redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """The redis-server of the session's handoff service (``console_service``), and of nothing else.

    That service runs for the whole session with its mail worker, event mover and late-order scan. On a
    server shared with every test they would take other tests' jobs (a notice's e-mail, an event the
    test reads back) as a second installation on one Redis would: so it, and the tests that talk to it,
    get a server of their own.
    """
    server = start_redis(tmp_path_factory.mktemp("console-redis"))
    yield server
    server.stop()


@pytest.fixture()
def redis_server(request: pytest.FixtureRequest) -> RedisServer:
    """The test's redis-server: the handoff service's if the test uses it, else the plain one."""
    name = "console_redis_server" if "console_service" in request.fixturenames else "plain_redis_server"
    server: RedisServer = request.getfixturevalue(name)
    return server


@pytest_asyncio.fixture()
async def redis_client(redis_server: RedisServer) -> AsyncIterator[Redis]:
    """A client of that server, emptied before each test."""
    redis_server.flush()
    client = Redis(port=redis_server.port, decode_responses=True)
    yield client
    await client.close()


@pytest.fixture(scope="session")
def twilio() -> Iterator[FakeTwilio]:
    """Stands in for Twilio's REST API: records the WhatsApp messages Kesher sends."""
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture(scope="session")
def telegram() -> Iterator[FakeTelegram]:
    """Stands in for Telegram's Bot API: records the calls Kesher makes."""
    with FakeTelegram() as fake:
        yield fake


@pytest.fixture(scope="session")
def domain() -> Dict[str, Any]:
    return load_domain()


@pytest.fixture()
def backends(tmp_path: Path, redis_client: Redis) -> Backends:
    return make_backends(tmp_path / "orders.db", redis=redis_client)


@pytest_asyncio.fixture()
async def smtp_sink() -> AsyncIterator[SmtpSink]:
    """A real aiosmtpd server on a free loopback port that keeps what it receives."""
    sink = SmtpSink(port=free_port())
    await sink.start()
    yield sink
    await sink.stop()
