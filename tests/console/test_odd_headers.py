"""Headers no browser sends still get a 4xx with a reason from the console, never a 500."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.helpers.console_app import hidden_field, running_console
from tests.helpers.redis_server import RedisServer


async def test_an_unparsable_accept_header_or_a_non_ascii_csrf_token_gets_a_4xx(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    async with running_console(redis_server, tmp_path) as console:
        async with httpx.AsyncClient(base_url=console.base_url, timeout=30) as client:
            token = hidden_field((await client.get("/console/login")).text, "csrf_token")
            forged = await client.post("/console/login", headers={b"x-csrf-token": b"\x80"},
                                       data={"agent_id": "dana", "password": "x", "csrf_token": token})
            unknown = await client.get("/console/nope", headers={"accept": "0"})
            too_big = await client.post("/console/login", headers={"accept": "0"}, content=b"a=" + b"x" * 300_000)
    assert forged.status_code == 403 and "CSRF" in forged.text
    assert unknown.status_code == 404 and "not found" in unknown.text
    assert too_big.status_code == 413 and "size limit" in too_big.text
