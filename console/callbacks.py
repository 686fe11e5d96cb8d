"""The console's list of "call me back" requests (#18): open ones soonest first, closed with an outcome.

``GET /console/callbacks`` shows the open requests the bot filed (``handoff/callbacks.py``), with the
number, the preferred time in the desk's time zone and the customer's language, and the recently closed
ones. ``POST /console/callbacks/<id>/close`` closes one with an outcome (and a note); the CSRF check of
``console.middleware`` applies, and the event log gets a ``callback`` event. Agents and supervisors only:
the page shows customers' phone numbers. ``setup_callbacks(app)`` adds it to the handoff service.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Dict, List

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, redirect

from console.auth import DESK_ROLES, current_agent, require_role
from console.context import state
from console.middleware import load_session, security_headers
from console.web import render, say
from core.errors import InvalidInput
from handoff.callbacks import OUTCOMES, CallbackRequest

__all__ = ["CallbackRow", "bp", "setup_callbacks"]

log = logging.getLogger(__name__)

bp = Blueprint("console_callbacks", url_prefix="/console/callbacks", strict_slashes=False)
bp.on_request(load_session)
bp.on_response(security_headers)
MAX_NOTE = 500


@dataclass(frozen=True)
class CallbackRow:
    """One request as the page shows it: the request and its times in the desk's time zone."""

    request: CallbackRequest
    preferred: datetime
    requested: datetime
    closed: datetime | None


def _rows(requests: List[CallbackRequest], request: Request) -> List[CallbackRow]:
    hours = state(request).container.policy.hours

    def local(ts: float) -> datetime:
        return hours.localize(datetime.fromtimestamp(ts, tz=UTC))

    return [CallbackRow(r, local(r.preferred_at), local(r.requested_at), local(r.closed_at) if r.closed_at else None)
            for r in requests]


@bp.get("/")
@require_role(*DESK_ROLES)
async def callbacks(request: Request) -> HTTPResponse:
    """The open requests, soonest first, and the recently closed ones."""
    book = state(request).container.callbacks
    return render(request, "console/callbacks.html", active="callbacks",
                  open_rows=_rows(await book.open_requests(), request),
                  closed_rows=_rows(await book.closed_requests(), request),
                  outcomes=OUTCOMES, closed=request.args.get("closed", ""),
                  outcome=request.args.get("outcome", ""))


@bp.post("/<callback_id>/close")
@require_role(*DESK_ROLES)
async def close(request: Request, callback_id: str) -> HTTPResponse:
    """Closes one request with the outcome chosen (and the agent's note), then lists them again."""
    form: Dict[str, Any] = {k: (v[0] if isinstance(v, list) else v) for k, v in (request.form or {}).items()}
    outcome = str(form.get("outcome") or "").strip()
    if outcome not in OUTCOMES:
        raise InvalidInput(say(request, "console_error_callback_outcome"))
    note = " ".join(str(form.get("note") or "").split())[:MAX_NOTE]
    agent = current_agent(request).agent_id
    closed = await state(request).container.callbacks.close(callback_id[:40], outcome, agent, note)
    log.info("agent=%s closed callback %s: %s", agent, closed.callback_id, outcome)
    return redirect(request.app.url_for("console_callbacks.callbacks", closed=closed.callback_id, outcome=outcome))


def setup_callbacks(app: Sanic) -> None:
    """Adds ``/console/callbacks`` to the handoff service."""
    app.blueprint(bp)
