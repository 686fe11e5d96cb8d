"""What the running stack's event log database holds for one conversation (rows the mover stored).

The Redis stream is only a waiting room: the mover deletes what it stored, so a test of
the whole stack reads the database, as the dashboard does.
"""

from __future__ import annotations

from typing import Any, Dict, List, Sequence

from sqlalchemy import select

from analytics.engine import events_engine
from analytics.tables import service_events
from core.service_events import pseudonym
from core.settings import Settings

__all__ = ["rows_of"]


def rows_of(settings: Settings, cid: str, kinds: Sequence[str]) -> List[Dict[str, Any]]:
    """The stored events of conversation ``cid`` whose kind is one of ``kinds``, oldest first.

    An empty list while the database does not exist yet (the mover creates it on its first batch).
    """
    engine = events_engine(settings.events_db_url)
    try:
        with engine.connect() as connection:
            alias = pseudonym(settings.events_secret, cid)
            query = (select(service_events).where(service_events.c.conversation == alias)
                     .where(service_events.c.kind.in_(list(kinds)))
                     .order_by(service_events.c.at, service_events.c.id))
            return [dict(row) for row in connection.execute(query).mappings().all()]
    except Exception:
        return []
    finally:
        engine.dispose()
