"""The console's page of replies that never reached their customer: the delivery worker's dead letters.

``GET /console/undelivered`` lists, newest first, what ``connectors.delivery``
gave up on (after its last attempt, or at once when the provider refused the
message): the channel, the conversation, when, the text and the last error.
The list lives in Redis (``RedisKeys.undelivered``), capped and kept for the
``undelivered_days`` setting like other personal data. An agent sees the replies
of the conversations they may read (their own, and queued ones); a supervisor
sees them all. ``setup_undelivered(app)`` adds the page to the handoff service.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Dict, List, Optional

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse

from console.auth import DESK_ROLES, current_agent, require_role
from console.context import ServiceState, state
from console.middleware import load_session, security_headers
from console.web import render
from handoff.models import Agent, Conversation

__all__ = ["MAX_SHOWN", "UndeliveredRow", "bp", "setup_undelivered", "visible_undelivered"]

bp = Blueprint("console_undelivered", url_prefix="/console/undelivered", strict_slashes=False)
bp.on_request(load_session)
bp.on_response(security_headers)
ROLES = DESK_ROLES
MAX_SHOWN = 200
MAX_READ = 2000  # entries read to find the ones an agent may see


@dataclass(frozen=True)
class UndeliveredRow:
    """One reply as the page shows it.

    Attributes:
        at: When it was given up on (UTC).
        channel: The channel it was for.
        cid: Its conversation.
        in_desk: The conversation has a handoff record the desk can open.
        kind: ``bot``, ``agent`` or ``system``.
        text: What the customer did not get.
        error: The last error.
        attempts: How many attempts were made.
        refused: The provider refused it.
    """

    at: datetime
    channel: str
    cid: str
    in_desk: bool
    kind: str
    text: str
    error: str
    attempts: int
    refused: bool


def _may_see(agent: Agent, conv: Optional[Conversation]) -> bool:
    if agent.role == "supervisor":
        return True
    return conv is not None and conv.visible_to(agent)


async def visible_undelivered(service: ServiceState, agent: Agent, limit: int = MAX_SHOWN) -> List[UndeliveredRow]:
    """The undelivered replies ``agent`` may see, newest first.

    Args:
        service: The handoff service's state (Redis, keys, the store).
        agent: Who is looking.
        limit: At most this many.
    """
    entries = await service.redis.xrevrange(service.store.keys.undelivered(), count=MAX_READ)
    cids = sorted({fields.get("cid", "") for _, fields in entries})
    conversations: Dict[str, Optional[Conversation]] = dict(zip(cids, await service.store.get_many(cids),
                                                                strict=True))
    rows: List[UndeliveredRow] = []
    for _, fields in entries:
        conv = conversations.get(fields.get("cid", ""))
        if not _may_see(agent, conv):
            continue
        rows.append(UndeliveredRow(
            at=datetime.fromtimestamp(float(fields.get("at") or 0), tz=UTC),
            channel=fields.get("channel", ""),
            cid=fields.get("cid", ""),
            in_desk=conv is not None,
            kind=fields.get("kind", ""),
            text=fields.get("text", ""),
            error=fields.get("error", ""),
            attempts=int(fields.get("attempts") or 0),
            refused=fields.get("refused") == "1",
        ))
        if len(rows) >= limit:
            break
    return rows


@bp.get("/")
@require_role(*ROLES)
async def undelivered(request: Request) -> HTTPResponse:
    """The undelivered replies the agent may see, newest first."""
    service = state(request)
    rows = await visible_undelivered(service, current_agent(request))
    return render(request, "console/undelivered.html", active="undelivered", rows=rows,
                  attempts=service.settings.delivery_attempts, days=service.settings.undelivered_days)


def setup_undelivered(app: Sanic) -> None:
    """Adds ``/console/undelivered`` to the handoff service."""
    app.blueprint(bp)
