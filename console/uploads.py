"""``GET /console/api/uploads/<id>``: an image a web customer sent during a handoff, for the agents who may see it.

An agent sees the images of a conversation in the queue or assigned to them;
a supervisor every one. The image goes out with its own type (checked from its
bytes when it was taken), ``nosniff``, ``Content-Disposition: inline`` and a
CSP that forbids everything, so a crafted file cannot run as a page.
"""

from __future__ import annotations

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse

from console.auth import DESK_ROLES, current_agent, require_role
from console.context import state
from console.middleware import load_session, security_headers
from core.errors import NotAllowed, NotFound
from handoff.models import ConversationState

__all__ = ["bp", "setup_uploads"]

bp = Blueprint("console_uploads", url_prefix="/console/api/uploads")
bp.on_request(load_session)
bp.on_response(security_headers)


@bp.get("/<upload_id:str>")
@require_role(*DESK_ROLES)
async def upload(request: Request, upload_id: str) -> HTTPResponse:
    """The image, to an agent who may see its conversation."""
    service = state(request)
    found = await service.container.uploads.get(upload_id)
    if found is None:
        raise NotFound("no such image (it may have expired)")
    agent = current_agent(request)
    if agent.role != "supervisor":
        conv = await service.store.get(found.cid)
        mine = conv is not None and (conv.agent_id == agent.agent_id or conv.state is ConversationState.QUEUED)
        if not mine:
            raise NotAllowed("this image belongs to another agent's conversation")
    return HTTPResponse(found.body, content_type=found.content_type, headers={
        "Content-Security-Policy": "default-src 'none'; sandbox",
        "Content-Disposition": "inline",
        "Cache-Control": "private, no-store",
    })


def setup_uploads(app: Sanic) -> None:
    """Adds ``/console/api/uploads/<id>`` to the handoff service."""
    app.blueprint(bp)
