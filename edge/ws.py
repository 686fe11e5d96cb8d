"""Sanic websocket helpers shared by the agent console and the web chat widget."""

from __future__ import annotations

import asyncio
from typing import Any, Optional

from sanic.exceptions import WebsocketClosed
from websockets.connection import CLOSED as WS_CLOSED
from websockets.exceptions import ConnectionClosed

__all__ = ["SOCKET_GONE", "receive"]

SOCKET_GONE = (ConnectionClosed, WebsocketClosed)
"""What a send on a Sanic websocket raises once the peer is gone: websockets' error, or Sanic's own when the
connection was already closing (a frame for a socket that closed a moment ago)."""


async def receive(ws: Any) -> Optional[str]:
    """The next text message from a Sanic websocket; None once the connection is closing.

    Sanic 21.12's ``ws.recv()`` passes a bare coroutine to ``asyncio.wait``,
    which Python 3.11 refuses (the message is lost and the socket closes). This
    is the same logic with the coroutine wrapped in a task; it uses the same
    internals (``recv_lock``, ``recv_cancel``, ``assembler``), so Sanic still
    wakes it when the peer closes.
    """
    if ws.connection.state is WS_CLOSED:
        return None
    async with ws.recv_lock:
        cancel: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        ws.recv_cancel = cancel
        getter = asyncio.ensure_future(ws.assembler.get())
        try:
            done, _ = await asyncio.wait((cancel, getter), return_when=asyncio.FIRST_COMPLETED)
            if getter in done:
                data = getter.result()
                if isinstance(data, bytes):
                    return data.decode("utf-8", "replace")
                return None if data is None else str(data)
            getter.cancel()
            return None
        finally:
            ws.recv_cancel = None
            if not cancel.done():
                cancel.cancel()
