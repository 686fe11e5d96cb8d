"""The fuzz tests' servers and a logged-in console session (the summary table: tests/fuzz/report.py)."""

from __future__ import annotations

import re
from typing import Any, Dict, Iterator

import httpx
import pytest

from handoff.models import HandoffRequest
from handoff.state import HandoffStore
from tests.fuzz.servers import AGENT, PASSWORD, FuzzServers, fuzz_settings
from tests.helpers.redis_server import start_redis
from wiring.container import Container

FUZZ_CID = "web:fuzz-conversation"


@pytest.fixture(scope="session")
def fuzz(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzServers]:
    """Every channel and the console, served from a thread on a redis-server of their own.

    Their mail worker and event mover run for the whole session: on the other tests' server they would
    take those tests' jobs.
    """
    base = tmp_path_factory.mktemp("fuzz")
    (base / "redis").mkdir()
    redis = start_redis(base / "redis")
    servers = FuzzServers(fuzz_settings(base, redis.port))
    servers.start()
    try:
        yield servers
    finally:
        servers.stop()
        redis.stop()


def _found(pattern: str, html: str) -> str:
    match = re.search(pattern, html)
    assert match is not None, f"{pattern!r} not in {html[:300]}"
    return match.group(1)


@pytest.fixture(scope="session")
def agent(fuzz: FuzzServers) -> Iterator[Dict[str, Any]]:
    """A logged-in supervisor (session cookie and CSRF token), holding one conversation of its own."""
    with httpx.Client(base_url=fuzz.console_url, timeout=30) as http:
        page = http.get("/console/login")
        token = _found(r'name="csrf_token" value="([^"]+)"', page.text)
        login = http.post("/console/login", data={"agent_id": AGENT, "password": PASSWORD, "csrf_token": token})
        assert login.status_code == 303, login.text[:300]
        desk = http.get("/console")
        csrf = _found(r'<meta name="csrf-token" content="([^"]+)"', desk.text)
        assert http.post("/console/api/presence", json={"status": "online"},
                         headers={"X-CSRF-Token": csrf}).status_code == 200

        async def queued() -> None:
            store = HandoffStore(Container(fuzz.settings).redis, Container(fuzz.settings).keys)
            await store.request(HandoffRequest(cid=FUZZ_CID, channel="web", language="en",
                                               reason="explicit_request", reference="K-FUZZ01", priority=1,
                                               topic="orders", customer_name="Fuzz Customer"))

        fuzz.run(queued())
        taken = http.post(f"/console/api/chats/{FUZZ_CID}/take", json={}, headers={"X-CSRF-Token": csrf})
        assert taken.status_code == 200, taken.text
        yield {"cookies": dict(http.cookies), "csrf": csrf, "cid": FUZZ_CID}
