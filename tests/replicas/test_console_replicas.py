"""Two handoff service replicas on one Redis: an agent's console works whichever replica it reaches.

Both replicas are the real handoff service (``create_app``) over real HTTP. The balancer has no
sticky sessions, so the agent's page requests go to one replica and their console's websocket to
the other: what happens on either must reach the console, and logging out on one must close the
console held open by the other at once (not at its next heartbeat, 25 s later).
"""

from __future__ import annotations

from contextlib import AsyncExitStack
from pathlib import Path

import httpx
import pytest
from websockets.exceptions import ConnectionClosed

from console.context import state
from console.feed import CLOSE_LOGGED_OUT
from tests.console.conftest import english_request, login, new_cid
from tests.helpers.console import console_socket, next_frame
from tests.helpers.console_app import copy_demo_agents, running_console
from tests.helpers.redis_server import RedisServer

pytestmark = pytest.mark.asyncio


async def test_a_console_on_one_replica_sees_changes_and_logout_made_on_the_other(
        redis_server: RedisServer, tmp_path: Path) -> None:
    redis_server.flush()
    agents = copy_demo_agents(tmp_path / "agents")
    async with AsyncExitStack() as stack:
        a = await stack.enter_async_context(running_console(redis_server, tmp_path / "a", agents_file=agents))
        b = await stack.enter_async_context(running_console(redis_server, tmp_path / "b", agents_file=agents))
        http = await stack.enter_async_context(httpx.AsyncClient(base_url=a.base_url, timeout=30))
        csrf = await login(http, "dana")
        headers = {"X-CSRF-Token": csrf}
        assert (await http.post("/console/api/presence", json={"status": "online"}, headers=headers)).status_code == 200
        ws = await console_socket(b.base_url, str(http.cookies.get("kesher_session")))
        try:
            cid = new_cid("replica")
            await state(a.app).store.request(english_request(cid))  # queued through replica A's backends
            await next_frame(ws, lambda m: m["type"] == "queue" and any(r["cid"] == cid for r in m["queue"]))
            assert (await http.post(f"/console/api/chats/{cid}/take", headers=headers)).status_code == 200
            taken = await next_frame(ws, lambda m: m["type"] == "state" and m["cid"] == cid)
            assert taken["to"] == "with_agent" and taken["agent_id"] == "dana"

            assert (await http.post("/console/logout", data={"csrf_token": csrf})).status_code == 303
            with pytest.raises(ConnectionClosed) as closed:
                await next_frame(ws, lambda m: False, seconds=5)
            assert closed.value.code == CLOSE_LOGGED_OUT
        finally:
            await ws.close()
