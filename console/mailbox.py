"""The console's mail pages: what the local SMTP server stored (``handoff.mail.smtpd``).

The HTML part of a message is the sender's markup: it is served on its own
URL with a CSP that forbids scripts and everything remote (``sandbox``), and
shown in an ``<iframe sandbox>``, never inserted into the console's page.

Every customer's e-mail is here, so only supervisors see these pages; and they
exist only while e-mail goes to the local SMTP server of ``make up`` (a
loopback host, no login): with a real mail server configured they answer 404.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from functools import wraps
from pathlib import Path
from typing import Any, Callable, Coroutine, Dict, List

from sanic import Blueprint, Request
from sanic.response import HTTPResponse, html

from console.auth import require_role
from console.context import state
from console.middleware import load_session, security_headers
from console.web import render, say
from core.errors import NotFound
from core.settings import Settings
from handoff.mail.smtpd import list_mail, read_mail

__all__ = ["ROLES", "bp", "mailbox_on"]

log = logging.getLogger(__name__)

bp = Blueprint("console_mail", url_prefix="/console/mail", strict_slashes=False)
bp.on_request(load_session)
bp.on_response(security_headers)
ROLES = ("supervisor",)
MailHandler = Callable[..., Coroutine[Any, Any, HTTPResponse]]


def mailbox_on(settings: Settings) -> bool:
    """Whether the mail pages exist: e-mail goes to the local SMTP server (loopback host, no login)."""
    if settings.smtp_user:
        return False
    host = settings.smtp_host.strip().strip("[]").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _only_when_on(handler: MailHandler) -> MailHandler:
    """Answers 404 (before anything else) while a real mail server is configured."""
    @wraps(handler)
    async def checked(request: Request, *args: Any, **kwargs: Any) -> HTTPResponse:
        if not mailbox_on(state(request).settings):
            raise NotFound(say(request, "console_error_mail_off"))
        return await handler(request, *args, **kwargs)

    return checked


def _mail_dir(request: Request) -> Path:
    return Path(state(request).settings.mail_dir)


async def _list(request: Request) -> List[Dict[str, Any]]:
    return await asyncio.get_running_loop().run_in_executor(None, list_mail, _mail_dir(request))


async def _read(request: Request, name: str) -> Dict[str, Any]:
    return await asyncio.get_running_loop().run_in_executor(None, read_mail, _mail_dir(request), name)


@bp.get("/")
@_only_when_on
@require_role(*ROLES)
async def mail_list(request: Request) -> HTTPResponse:
    """The stored e-mails, newest first."""
    return render(request, "console/mail_list.html", messages=await _list(request),
                  mail_dir=str(_mail_dir(request)))


@bp.get("/<name>")
@_only_when_on
@require_role(*ROLES)
async def mail_view(request: Request, name: str) -> HTTPResponse:
    """One e-mail: its headers, its text part, and its HTML part in a sandboxed frame."""
    message = await _read(request, name)
    return render(request, "console/mail_view.html", message=message, name=name)


@bp.get("/<name>/body")
@_only_when_on
@require_role(*ROLES)
async def mail_body(request: Request, name: str) -> HTTPResponse:
    """The HTML part alone, for the sandboxed frame (no script can run in it)."""
    message = await _read(request, name)
    request.ctx.mail_frame = True
    body = str(message.get("html") or "")
    if not body:
        raise NotFound(say(request, "console_error_no_html"))
    return html(body)
