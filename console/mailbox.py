"""The console's mail pages: what the local SMTP server stored (``handoff.mail.smtpd``).

The HTML part of a message is the sender's markup: it is served on its own
URL with a CSP that forbids scripts and everything remote (``sandbox``), and
shown in an ``<iframe sandbox>``, never inserted into the console's page.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path
from typing import Any, Dict, List

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html

from console.auth import DESK_ROLES, require_role
from console.context import state
from console.middleware import load_session, security_headers
from console.web import render, say
from core.errors import NotFound
from handoff.mail.smtpd import list_mail, read_mail

__all__ = ["bp"]

log = logging.getLogger(__name__)

bp = Blueprint("console_mail", url_prefix="/console/mail", strict_slashes=False)
bp.on_request(load_session)
bp.on_response(security_headers)
ROLES = DESK_ROLES


def _mail_dir(request: Request) -> Path:
    return Path(state(request).settings.mail_dir)


async def _list(request: Request) -> List[Dict[str, Any]]:
    return await asyncio.get_running_loop().run_in_executor(None, list_mail, _mail_dir(request))


async def _read(request: Request, name: str) -> Dict[str, Any]:
    return await asyncio.get_running_loop().run_in_executor(None, read_mail, _mail_dir(request), name)


@bp.get("/")
@require_role(*ROLES)
async def mail_list(request: Request) -> HTTPResponse:
    """The stored e-mails, newest first."""
    return render(request, "console/mail_list.html", messages=await _list(request),
                  mail_dir=str(_mail_dir(request)))


@bp.get("/<name>")
@require_role(*ROLES)
async def mail_view(request: Request, name: str) -> HTTPResponse:
    """One e-mail: its headers, its text part, and its HTML part in a sandboxed frame."""
    message = await _read(request, name)
    return render(request, "console/mail_view.html", message=message, name=name)


@bp.get("/<name>/body")
@require_role(*ROLES)
async def mail_body(request: Request, name: str) -> HTTPResponse:
    """The HTML part alone, for the sandboxed frame (no script can run in it)."""
    message = await _read(request, name)
    request.ctx.mail_frame = True
    body = str(message.get("html") or "")
    if not body:
        raise NotFound(say(request, "console_error_no_html"))
    return html(body)
