"""The mover: service events from the Redis stream into the event log's SQL table, none lost, none twice.

Every process puts :class:`core.service_events.ServiceEvent` records on the
``service-events`` stream (``handoff/event_log.py``). Each handoff service runs one
:class:`EventMover`, a consumer (with a name of its own) of the stream's consumer
group ``event-log``:

- it reads up to ``batch`` events (once the first came, it waits at most ``wait_seconds``
  for the batch to fill, so a steady trickle of turns costs one insert a second, not one
  per turn), inserts them in one transaction in a worker thread (SQLAlchemy is blocking; the
  event loop never waits for the database), then acknowledges and deletes them
  from the stream, only after the commit;
- the insert ignores an event already stored (``event_id`` is the stream id; SQLite
  ``INSERT OR IGNORE``, PostgreSQL ``ON CONFLICT DO NOTHING``), so a batch delivered
  again after a crash between commit and acknowledgement is stored once;
- when the database fails, the batch stays pending in Redis; the mover logs one
  line, waits (1 s, doubling, at most 30 s) and tries again, reading its own pending
  entries first, so an outage delays events and loses none (Redis keeps them);
- entries another consumer read and left unacknowledged for ``claim_idle_seconds``
  (a replica that died) are claimed (``XAUTOCLAIM``) and moved like its own;
- an event that cannot be read back (a malformed entry) is logged and dropped, so
  it cannot hold up the others;
- a conversation id never reaches the database: each row is stored
  :meth:`~core.service_events.ServiceEvent.pseudonymised` under ``KESHER_EVENTS_SECRET``;
- once an hour it blanks the customer's (masked) words in rows older than
  ``KESHER_RETENTION_DAYS`` and deletes rows older than ``KESHER_EVENTS_RETENTION_DAYS``
  (several movers doing it at once do the same harmless work).

The table is created when missing, before the first insert.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, Dict, List, Optional, Sequence, Tuple

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError
from sqlalchemy import delete, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.sql.dml import Insert

from analytics.engine import create_tables
from analytics.tables import service_events
from core.redis_keys import RedisKeys
from core.service_events import ServiceEvent

__all__ = ["GROUP", "EventMover", "consumer_name", "insert_ignoring_duplicates"]

log = logging.getLogger(__name__)

GROUP = "event-log"
PURGE_EVERY_SECONDS = 3600.0
Entry = Tuple[str, Dict[str, str]]


def consumer_name() -> str:
    """A name no other mover has: host, process and a random part (a restarted process is a new consumer)."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def insert_ignoring_duplicates(engine: Engine) -> Insert:
    """The dialect's insert into ``service_events`` that skips rows whose ``event_id`` is stored already.

    Raises:
        ValueError: A dialect other than SQLite or PostgreSQL.
    """
    dialect = engine.dialect.name
    if dialect == "sqlite":
        return service_events.insert().prefix_with("OR IGNORE")
    if dialect == "postgresql":
        return postgresql_insert(service_events).on_conflict_do_nothing(index_elements=["event_id"])
    raise ValueError(f"the event log runs on SQLite or PostgreSQL, not {dialect!r}")


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _entries(raw: Any) -> List[Entry]:
    """Stream entries as ``(id, fields)`` with strings, whatever the client's ``decode_responses``."""
    out: List[Entry] = []
    for entry_id, fields in raw or []:
        if fields is None:  # deleted while pending
            out.append((_text(entry_id), {}))
            continue
        out.append((_text(entry_id), {_text(k): _text(v) for k, v in fields.items()}))
    return out


class EventMover:
    """Moves the service-events stream into ``service_events`` (see the module docstring)."""

    def __init__(
        self,
        redis: Redis,
        keys: RedisKeys,
        engine: Engine,
        *,
        secret: str,
        text_days: int = 30,
        row_days: int = 400,
        consumer: Optional[str] = None,
        batch: int = 500,
        wait_seconds: float = 1.0,
        claim_idle_seconds: float = 60.0,
        backoff_seconds: float = 1.0,
        backoff_cap_seconds: float = 30.0,
    ) -> None:
        """Keeps its collaborators; connects to nothing.

        Args:
            redis: An asyncio Redis client.
            keys: Where the stream is.
            engine: The event log's database (``analytics.engine.events_engine``).
            secret: Keys the pseudonyms of conversation ids (``KESHER_EVENTS_SECRET``).
            text_days: Rows older than this many days lose the customer's words (``KESHER_RETENTION_DAYS``).
            row_days: Rows older than this many days are deleted (``KESHER_EVENTS_RETENTION_DAYS``).
            consumer: This mover's consumer name (default: :func:`consumer_name`).
            batch: Most events per insert.
            wait_seconds: Longest wait for new events before looking again, and for a batch to fill.
            claim_idle_seconds: Entries another consumer left unacknowledged this long are taken over.
            backoff_seconds: First wait after a database error (doubled after each failure).
            backoff_cap_seconds: Longest wait between two attempts.
        """
        self.redis = redis
        self.stream = keys.service_events()
        self.engine = engine
        self.secret = secret
        self.text_days = text_days
        self.row_days = max(row_days, text_days)
        self._next_purge = 0.0
        self.consumer = consumer or consumer_name()
        self.batch = max(1, batch)
        self.wait_seconds = wait_seconds
        self.claim_idle_ms = max(1, int(claim_idle_seconds * 1000))
        self.backoff_seconds = backoff_seconds
        self.backoff_cap_seconds = backoff_cap_seconds
        self._insert = insert_ignoring_duplicates(engine)
        self._table_ready = False
        self._group_ready = False
        self._own_pending_first = True  # after a start or a failure, what this consumer holds goes first
        self._next_claim = 0.0
        self.failures = 0  # database failures in a row

    # -- the loop -------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event) -> None:
        """Moves events until ``stop`` is set; database and Redis errors are logged and retried."""
        log.info("event log mover %s started (%s)", self.consumer, self.engine.url.render_as_string())
        while not stop.is_set():
            try:
                if time.monotonic() >= self._next_purge:
                    await asyncio.to_thread(self.purge)
                    self._next_purge = time.monotonic() + PURGE_EVERY_SECONDS
                await self.run_once()
                self.failures = 0
                continue
            except SQLAlchemyError as exc:
                self.failures += 1
                pause = min(self.backoff_seconds * 2 ** (self.failures - 1), self.backoff_cap_seconds)
                log.warning("event log: database unavailable (%s); %d failure(s), retrying in %.0f s, events wait "
                            "in Redis", str(exc).splitlines()[0][:200], self.failures, pause)
            except RedisError as exc:
                pause = min(self.backoff_seconds, self.backoff_cap_seconds)
                log.warning("event log: Redis unavailable (%s); retrying in %.0f s", exc, pause)
            self._own_pending_first = True
            try:
                await asyncio.wait_for(stop.wait(), timeout=pause)
            except TimeoutError:
                pass
        log.info("event log mover %s stopped", self.consumer)

    async def run_once(self) -> int:
        """Moves one batch: this consumer's pending entries, else claimed ones, else new ones.

        Returns:
            How many events were stored or found stored already.

        Raises:
            SQLAlchemyError: The database failed; the batch stays pending in Redis.
            RedisError: Redis failed.
        """
        await self._ensure_group()
        entries: List[Entry] = []
        if self._own_pending_first:
            entries = await self._read("0", block=None)
            if not entries:
                self._own_pending_first = False
        if not entries and time.monotonic() >= self._next_claim:
            entries = await self._claim()
        if not entries:
            entries = await self._fill(await self._read(">", block=int(self.wait_seconds * 1000)))
        if not entries:
            return 0
        return await self._store(entries)

    # -- Redis ------------------------------------------------------------------------
    async def _ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            await self.redis.xgroup_create(self.stream, GROUP, id="0", mkstream=True)
        except ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise
        self._group_ready = True

    async def _fill(self, entries: List[Entry]) -> List[Entry]:
        """Reads more new entries, for at most ``wait_seconds``, until the batch is full."""
        deadline = time.monotonic() + self.wait_seconds
        while entries and len(entries) < self.batch:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            more = await self._read(">", block=max(1, int(left * 1000)), count=self.batch - len(entries))
            if not more:
                break
            entries += more
        return entries

    async def _read(self, start: str, block: Optional[int], count: Optional[int] = None) -> List[Entry]:
        try:
            got = await self.redis.xreadgroup(GROUP, self.consumer, {self.stream: start}, count=count or self.batch,
                                              block=block)
        except ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            self._group_ready = False  # the stream was deleted: the group comes back with it
            return []
        return _entries(got[0][1]) if got else []

    async def _claim(self) -> List[Entry]:
        """Takes over entries left unacknowledged too long by another consumer (a replica that died)."""
        self._next_claim = time.monotonic() + self.claim_idle_ms / 2000
        raw = await self.redis.xautoclaim(self.stream, GROUP, self.consumer, self.claim_idle_ms, start_id="0-0",
                                          count=self.batch)
        entries = _entries(raw[1]) if raw and len(raw) > 1 else []
        if entries:
            log.info("event log: took over %d event(s) another mover left unacknowledged", len(entries))
            self._next_claim = 0.0  # there may be more
        return entries

    async def _forget(self, ids: Sequence[str]) -> None:
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.xack(self.stream, GROUP, *ids)
            pipe.xdel(self.stream, *ids)
            await pipe.execute()

    # -- the database -----------------------------------------------------------------------
    async def _store(self, entries: List[Entry]) -> int:
        rows: List[Dict[str, object]] = []
        for entry_id, fields in entries:
            if not fields:
                continue
            try:
                row = ServiceEvent.from_fields(fields).pseudonymised(self.secret).as_row()
            except (KeyError, TypeError, ValueError) as exc:
                log.warning("event log: entry %s dropped, it cannot be read (%s): %r", entry_id, exc, fields)
                continue
            row["event_id"] = entry_id
            rows.append(row)
        if rows:
            await asyncio.to_thread(self._write, rows)
        await self._forget([entry_id for entry_id, _ in entries])
        return len(rows)

    def purge(self, now: Optional[datetime] = None) -> Tuple[int, int]:
        """Blanks old rows' words and deletes expired rows (blocking: run it in a worker thread).

        Args:
            now: The present, naive UTC (default: now).

        Returns:
            How many rows lost their words, and how many were deleted.
        """
        if not self._table_ready:
            create_tables(self.engine)
            self._table_ready = True
        now = now or datetime.now(UTC).replace(tzinfo=None)
        table = service_events
        with self.engine.begin() as connection:
            blanked = connection.execute(
                update(table).where(table.c.at < now - timedelta(days=self.text_days), table.c.text != "")
                .values(text="")).rowcount
            deleted = connection.execute(
                delete(table).where(table.c.at < now - timedelta(days=self.row_days))).rowcount
        if blanked or deleted:
            log.info("event log: %d old rows lost the customer's words, %d expired rows deleted", blanked, deleted)
        return int(blanked or 0), int(deleted or 0)

    def _write(self, rows: List[Dict[str, object]]) -> None:
        """One transaction (in a worker thread): the table if missing, then the rows not stored yet."""
        if not self._table_ready:
            create_tables(self.engine)
            self._table_ready = True
        with self.engine.begin() as connection:
            connection.execute(self._insert, rows)
