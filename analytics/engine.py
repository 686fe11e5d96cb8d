"""The event log's database connection: one SQLAlchemy engine per process, SQLite or PostgreSQL.

SQLite (the default, ``var/events.db``) runs in WAL mode, so the KPI and dashboard
reads do not wait for the mover's writes; PostgreSQL takes the same code through
``KESHER_EVENTS_DB_URL``. Building an engine opens no connection.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, create_engine, make_url
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from analytics.tables import metadata

__all__ = ["SUPPORTED_DIALECTS", "create_tables", "events_engine"]

SUPPORTED_DIALECTS = ("sqlite", "postgresql")


def events_engine(url: str) -> Engine:
    """An engine for the event log at ``url`` (the folder of a SQLite file is created).

    Args:
        url: A SQLAlchemy URL (``sqlite:///var/events.db``, ``postgresql://user@host/db``).

    Raises:
        ValueError: A database other than SQLite or PostgreSQL.
    """
    parsed = make_url(url)
    dialect = parsed.get_backend_name()
    if dialect not in SUPPORTED_DIALECTS:
        raise ValueError(f"the event log runs on SQLite or PostgreSQL, not {dialect!r} ({url})")
    if dialect == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, future=True, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, future=True, pool_pre_ping=True)


def _sqlite_pragmas(connection: Any, _record: Any) -> None:
    cursor = connection.cursor()
    # WAL: readers (KPIs, dashboard) and the mover's writer do not block each other.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def create_tables(engine: Engine) -> None:
    """Creates the event log's table and indexes where missing (blocking: call it in a thread).

    Several processes (each handoff service's mover and dashboard) may do it at once: one that finds the
    table made by another between its check and its ``CREATE`` checks again rather than fail.
    """
    try:
        metadata.create_all(engine, checkfirst=True)
    except (OperationalError, ProgrammingError, IntegrityError):
        metadata.create_all(engine, checkfirst=True)
