"""A composition root for a test: its own SQLite orders store, its own Redis keys, closed afterwards."""

from __future__ import annotations

import uuid
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, AsyncIterator, Optional

from core.processes import free_port
from core.redis_keys import RedisKeys
from core.settings import Settings
from wiring.container import Container

__all__ = ["orders_settings", "running_container"]


def orders_settings(tmp_path: Path, redis_port: int, smtp_port: Optional[int] = None, **values: Any) -> Settings:
    """Settings on the test's redis-server, with the orders in ``tmp_path/orders.db`` (and mail to ``smtp_port``).

    Args:
        tmp_path: The test's folder (the var dir and the orders database).
        redis_port: The test's redis-server.
        smtp_port: The SMTP sink's port, when the test reads mail.
        values: Any other settings.
    """
    if smtp_port is not None:
        values.update(smtp_host="127.0.0.1", smtp_port=smtp_port)
    return Settings(var_dir=tmp_path, orders_db_url=f"sqlite:///{tmp_path / 'orders.db'}", **values).with_ports(
        redis=redis_port, rasa=free_port(), actions=free_port())


@asynccontextmanager
async def running_container(settings: Settings, prefix: str = "") -> AsyncIterator[Container]:
    """The container of ``settings``, closed afterwards; with ``prefix``, Redis keys of its own (``prefix-xxxxxx:``)."""
    container = Container(settings)
    if prefix:
        container.keys = RedisKeys(f"{prefix}-{uuid.uuid4().hex[:6]}:")
    try:
        yield container
    finally:
        await container.close()
