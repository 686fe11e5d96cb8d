"""The page a notice e-mail's unsubscribe link opens, on the public listener that serves the widget.

``GET /webhooks/web/notices/unsubscribe?e=<digest>&t=<hmac>&lang=he|en`` (the link
:func:`handoff.notices.unsubscribe_url` puts in every late-order e-mail) shows a
small page in the customer's language with one button; the GET itself changes
nothing, since mail scanners fetch links before anyone reads the mail. ``POST`` to
the same address (the button, or a mail client's RFC 8058 one-click POST with the
body ``List-Unsubscribe=One-Click``; the body is not needed) records the opt-out
(:meth:`handoff.notices.NoticeService.opt_out_address`) and answers with the
confirmation; a second POST changes nothing and confirms again.

The link carries the address's digest, never the address, and an HMAC of it under
``KESHER_NOTICES_SECRET``, compared in constant time: a link that was changed or
not made here gets 403 and changes nothing; a missing or malformed one gets 400.
Requests count against the client address's limit
(``KESHER_LIMIT_UNSUBSCRIBE_PER_SOURCE``, 429), except a POST of a correctly signed
link, which counts against that link's address instead: a mail provider sends the
one-click POSTs of many customers from a few addresses. Every answer is a page with its own
CSP (no script at all; its one style block by hash; the form posts only to
itself), ``nosniff``, ``no-referrer`` (the link is a credential), no framing and
no caching.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re
from typing import Callable

from redis.exceptions import RedisError
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors.runtime import ChannelRuntime
from core.errors import TooManyRequests
from core.language import Language, as_language
from core.texts import TextCatalog
from edge.limits import Check, Limit, RateLimiter, client_address
from handoff.notices import UNSUBSCRIBE_PATH, valid_unsubscribe

__all__ = ["ROUTE", "STYLE", "add_unsubscribe_routes", "page", "security_headers"]

log = logging.getLogger(__name__)

ROUTE = UNSUBSCRIBE_PATH.removeprefix("/webhooks/web")  # "/notices/unsubscribe", under the web channel's routes
_DIGEST = re.compile(r"[0-9a-fA-F]{40}")
_TOKEN = re.compile(r"[0-9a-fA-F]{64}")

STYLE = (
    "body{margin:0;background:#f4f5f7;color:#1f2933;font-family:Arial,'Noto Sans Hebrew',sans-serif;"
    "font-size:16px;line-height:1.6}"
    "main{max-width:480px;margin:48px auto;padding:24px 28px;background:#fff;border-radius:8px}"
    "h1{font-size:20px;margin:0 0 12px;color:#0b4f6c}"
    "button{font:inherit;padding:10px 20px;border:0;border-radius:6px;background:#0b4f6c;color:#fff;cursor:pointer}"
)
_STYLE_HASH = base64.b64encode(hashlib.sha256(STYLE.encode()).digest()).decode()
CSP = (f"default-src 'none'; style-src 'sha256-{_STYLE_HASH}'; form-action 'self'; base-uri 'none'; "
       "frame-ancestors 'none'")


def security_headers() -> dict[str, str]:
    """The headers every answer of the page carries."""
    return {
        "content-security-policy": CSP,
        "x-content-type-options": "nosniff",
        "referrer-policy": "no-referrer",
        "x-frame-options": "DENY",
        "cache-control": "no-store",
    }


def page(texts: TextCatalog, language: Language, message_key: str, *, status: int = 200,
         confirm_action: str = "") -> HTTPResponse:
    """One answer of the unsubscribe page: a title, one sentence and, to confirm, the button.

    Args:
        texts: The catalog (``unsubscribe_*``).
        language: The page's language (Hebrew right to left).
        message_key: The sentence's key.
        status: The HTTP status.
        confirm_action: The address the button posts to ("" for no button).
    """
    def escape(value: str) -> str:
        return html.escape(value, quote=False)

    brand = texts.shared_values(language).get("brand", "")
    title = texts.text("unsubscribe_title", language)
    direction = "rtl" if language == "he" else "ltr"
    form = ""
    if confirm_action:
        form = (f'<form method="post" action="{html.escape(confirm_action, quote=True)}">'
                '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
                f'<button type="submit">{escape(texts.text("unsubscribe_button", language))}</button></form>')
    body = (
        "<!DOCTYPE html>\n"
        f'<html lang="{language}" dir="{direction}">\n'
        '<head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
        '<meta name="robots" content="noindex">'
        f"<title>{escape(f'{brand} · {title}' if brand else title)}</title><style>{STYLE}</style></head>\n"
        f'<body><main><h1>{escape(title)}</h1>'
        f'<p id="message">{escape(texts.text(message_key, language))}</p>{form}</main></body>\n</html>\n'
    )
    return HTTPResponse(body, status=status, headers=security_headers(), content_type="text/html; charset=utf-8")


def add_unsubscribe_routes(bp: Blueprint, runtime: Callable[[], ChannelRuntime]) -> None:
    """Adds ``GET`` and ``POST /notices/unsubscribe`` to the web channel's blueprint.

    Args:
        bp: The web channel's blueprint (``/webhooks/web``).
        runtime: The process's channel runtime (read at request time: it exists once the server started).
    """

    @bp.route(ROUTE, methods=["GET", "POST"])
    async def unsubscribe(request: Request) -> HTTPResponse:
        rt = runtime()
        texts = rt.texts
        language = as_language(request.args.get("lang"), rt.default_language)
        digest, token = (request.args.get("e") or "").lower(), (request.args.get("t") or "").lower()
        well_formed = (len(request.args.getlist("e") or []) == 1 and len(request.args.getlist("t") or []) == 1
                       and bool(_DIGEST.fullmatch(digest)) and bool(_TOKEN.fullmatch(token)))
        signed = well_formed and valid_unsubscribe(rt.settings.notices_secret, digest, token)
        # A mail provider's one-click POSTs for many customers come from few addresses: a signed POST is
        # counted against its own address's link; everything else against the client's address.
        one_click = signed and request.method == "POST"
        try:
            limit = Limit.parse(rt.settings.limit_unsubscribe_per_source)
            check = (Check("unsubscribe:address", digest, limit, "unsubscribe requests for this address")
                     if one_click else
                     Check("unsubscribe:source", client_address(request), limit,
                           "unsubscribe requests from this address"))
            await RateLimiter(rt.redis, rt.keys).hit([check])
        except TooManyRequests as exc:
            answer = page(texts, language, "unsubscribe_busy", status=429)
            answer.headers["retry-after"] = str(exc.retry_after)
            return answer
        except RedisError as exc:
            log.error("unsubscribe: redis unavailable: %s", exc)
            return page(texts, language, "unsubscribe_unavailable", status=503)
        if not well_formed:
            return page(texts, language, "unsubscribe_malformed", status=400)
        if not signed:
            log.warning("unsubscribe: a link with a wrong signature from %s", client_address(request))
            return page(texts, language, "unsubscribe_forbidden", status=403)
        if request.method == "GET":  # a mail scanner's fetch, or the customer: ask, change nothing
            here = f"?{request.query_string}"  # relative: right behind a proxy that strips a path prefix too
            return page(texts, language, "unsubscribe_question", confirm_action=here)
        try:
            await rt.container.notices.opt_out_address(digest, language)
        except RedisError as exc:
            log.error("unsubscribe: not recorded, redis unavailable: %s", exc)
            return page(texts, language, "unsubscribe_unavailable", status=503)
        return page(texts, language, "unsubscribe_done")
