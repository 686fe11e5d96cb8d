"""Background tasks of the services: stopping one cleanly."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, Optional

__all__ = ["cancel_and_wait"]


async def cancel_and_wait(task: Optional[asyncio.Task[Any]]) -> None:
    """Cancels ``task`` (if any) and waits until it has finished unwinding."""
    if task is None:
        return
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
