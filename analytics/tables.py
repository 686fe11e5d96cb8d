"""The event log's one table, ``service_events`` (SQLite for ``make up``, PostgreSQL in production).

One row per :class:`core.service_events.ServiceEvent`; the columns are its fields plus
``id`` and ``event_id`` (the Redis stream entry's id, unique, so a batch written twice
after a crash is stored once).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, DateTime, Float, Index, Integer, MetaData, String, Table, Text

__all__ = ["metadata", "service_events"]

metadata = MetaData()

service_events = Table(
    "service_events",
    metadata,
    # BIGINT on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True),
    Column("event_id", String(40), nullable=False, unique=True),
    Column("at", DateTime, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("conversation", String(200), nullable=False),
    Column("contact", String(220), nullable=False, default=""),
    Column("channel", String(16), nullable=False, default=""),
    Column("language", String(8), nullable=False, default=""),
    Column("intent", String(80), nullable=False, default=""),
    Column("confidence", Float, nullable=True),
    Column("outcome", String(16), nullable=False, default=""),
    Column("reason", String(64), nullable=False, default=""),
    Column("topic", String(80), nullable=False, default=""),
    Column("agent", String(64), nullable=False, default=""),
    Column("team", String(64), nullable=False, default=""),
    Column("value", Float, nullable=True),
    Column("text", Text, nullable=False, default=""),
    # The KPIs' indexes (analytics/kpis.py); each holds every column its queries read, so they never touch
    # the table. Per event, by kind and time:
    Index("ix_service_events_kind_at", "kind", "at", "outcome", "channel", "language"),
    # Per contact, in contact order, so grouping by contact (channel, language, topic) streams instead of sorting.
    Index("ix_service_events_kind_contact", "kind", "contact", "channel", "language", "topic", "conversation", "at",
          "outcome"),
    # The same for contacts per language (a contact's turns in one language, whatever the channel).
    Index("ix_service_events_kind_contact_language", "kind", "contact", "language", "at", "outcome", "channel"),
    Index("ix_service_events_contact", "contact"),
    Index("ix_service_events_conversation_at", "conversation", "at"),
)
