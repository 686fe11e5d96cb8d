"""Runs a Sanic app on a free loopback port inside the test's event loop (real HTTP)."""

from __future__ import annotations

from contextlib import asynccontextmanager
from typing import AsyncIterator

from sanic import Sanic

from core.processes import free_port


@asynccontextmanager
async def serving(app: Sanic) -> AsyncIterator[str]:
    """Starts ``app`` with its listeners; yields its base URL; stops it afterwards."""
    Sanic.test_mode = True  # see tests/conftest.py
    port = free_port()
    server = await app.create_server(host="127.0.0.1", port=port, return_asyncio_server=True,
                                     access_log=False)
    assert server is not None
    await server.startup()
    await server.before_start()
    await server.start_serving()
    await server.after_start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await server.before_stop()
        server.close()
        await server.wait_closed()
        await server.after_stop()
