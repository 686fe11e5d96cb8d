"""WhatsApp through Twilio: signed webhooks in, the Twilio REST API out.

Twilio POSTs each customer message (form-encoded) to ``/webhooks/whatsapp/webhook``
and delivery updates to ``/webhooks/whatsapp/status``; both must carry a valid
``X-Twilio-Signature`` (twilio's ``RequestValidator``), else 403. The webhook is
answered at once with an empty TwiML response; replies go out later through
``messages.create_async`` on twilio's aiohttp client, so nothing blocks the
event loop. WhatsApp has no buttons here: the base numbers them.

WhatsApp refuses a free-form message more than 24 hours after the customer's
last one. Each inbound message opens that window (a key in Redis that expires
after 24 hours, :meth:`RedisKeys.whatsapp_window`); outside it, an agent's reply
or a notice goes as an approved template through Twilio's Content API
(``content_sid`` and ``content_variables``, the SIDs from ``TWILIO_CONTENT_*``),
and with no template configured it is refused here, so it lands on the
console's undelivered page with the reason instead of being lost silently.

A rating question (the bot's, or the one an agent's close asks: five options that
are the ratings 1 to 5) goes as the ``csat`` quick-reply template when one is
configured (``TWILIO_CONTENT_CSAT_*``: the question as variable 1, buttons whose
ids are 1 to 5), so the customer answers in one tap; the tap comes back with the
button's id (``ButtonPayload``), which picks the option as its number would.
Without the template the question goes as numbered text.
"""

from __future__ import annotations

import json
import logging
import re
import time
from dataclasses import replace
from typing import Any, Dict, List, Optional
from urllib.parse import parse_qsl

import aiohttp
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse
from twilio.base.exceptions import TwilioRestException
from twilio.http.async_http_client import AsyncTwilioHttpClient
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from connectors.base import MAX_TEXT_CHARS, KesherInputChannel, OnNewMessage
from connectors.bidi_text import for_phone
from connectors.delivery import DeliveryError, Undeliverable
from connectors.runtime import ChannelRuntime
from connectors.text import split_text
from core import channels
from core.bidi import isolate, with_marks
from core.errors import InvalidInput, KesherError, NotAllowed, TooLarge
from core.language import is_hebrew
from core.markup import to_whatsapp
from core.production import whatsapp_template
from edge.errors import error_response, status_of
from handoff.models import OutboundMessage
from handoff.router import InboundMessage, RouteResult

__all__ = ["CSAT_TEMPLATE", "WhatsAppChannel", "asks_for_rating", "template_value"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 64 * 1024
MAX_MESSAGE_CHARS = 1600  # Twilio's limit for one WhatsApp message body
PREFIX = "whatsapp:"
WINDOW_SECONDS = 24 * 3600
# A reply sent this close to the window's end may reach Twilio after it closed: treated as outside.
WINDOW_MARGIN_SECONDS = 300
MAX_TEMPLATE_VAR_CHARS = 900  # a template variable is one line, well under WhatsApp's 1024 characters
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
CSAT_TEMPLATE = "csat"
# An option that answers a rating question: the rating itself (an agent's close) or the bot's /rate intent.
_RATING_PAYLOAD = re.compile(r'^(?:([1-5])|/rate\{"rating":\s*"([1-5])"\})$')


def asks_for_rating(message: OutboundMessage) -> bool:
    """Whether ``message`` is a rating question: its options are the ratings 1 to 5, in that order."""
    ratings = []
    for _, payload in message.buttons:
        match = _RATING_PAYLOAD.match(payload.strip())
        ratings.append(match and (match.group(1) or match.group(2)))
    return ratings == ["1", "2", "3", "4", "5"]


def template_value(value: str, language: str) -> str:
    """One variable of an approved template as the phone shows it, treated like a normal message's text.

    WhatsApp's ``*bold*`` instead of the catalog's markup, on one line (templates refuse line breaks), at most
    :data:`MAX_TEMPLATE_VAR_CHARS`; in a Hebrew template a right-to-left mark on each side, as every value
    of a normal Hebrew message gets (:func:`core.bidi.with_marks`), so a Latin name or a number beside it
    cannot turn the line; an English one loses any isolate. An empty value is "-" (Twilio refuses "").
    """
    line = " ".join(to_whatsapp(value).split())
    if len(line) > MAX_TEMPLATE_VAR_CHARS:
        line = line[: MAX_TEMPLATE_VAR_CHARS - 1] + "…"
    return with_marks(isolate(line or "-"), language)


class WhatsAppChannel(KesherInputChannel):
    """WhatsApp via Twilio (see the module docstring)."""

    supports_buttons = False
    limited_by_source = False  # every webhook comes from Twilio's servers: limit per sender only

    def __init__(
        self,
        account_sid: str,
        auth_token: str,
        from_number: str,
        api_base: str = "https://api.twilio.com",
        public_url: str = "",
        rt: Optional[ChannelRuntime] = None,
    ) -> None:
        """Keeps the account's settings; the API client is made when the server starts.

        Args:
            account_sid: Twilio account (``AC...``).
            auth_token: Signs webhooks and authenticates API calls.
            from_number: The business's sender, ``whatsapp:+...``.
            api_base: Twilio's REST API base URL (tests use a local fake).
            public_url: The public base URL of ``rasa run`` ("" = the URL each request was sent to).
            rt: The process runtime (tests pass their own).
        """
        super().__init__(rt)
        if not account_sid or not auth_token or not from_number:
            raise ValueError("WhatsApp needs TWILIO_ACCOUNT_SID, TWILIO_AUTH_TOKEN and TWILIO_WHATSAPP_FROM")
        self.account_sid = account_sid
        self.validator = RequestValidator(auth_token)
        self.auth_token = auth_token
        self.from_number = from_number if from_number.startswith(PREFIX) else PREFIX + from_number
        self.api_base = api_base.rstrip("/")
        self.public_url = public_url.rstrip("/")
        self._http: Optional[AsyncTwilioHttpClient] = None
        self._client: Optional[Client] = None

    @classmethod
    def name(cls) -> str:
        """The channel's name in routes and in the outbound stream."""
        return channels.WHATSAPP

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> WhatsAppChannel:
        """Built by Rasa from ``credentials.yml`` (values from the environment)."""
        c = credentials or {}
        return cls(
            str(c.get("account_sid") or ""),
            str(c.get("auth_token") or ""),
            str(c.get("from_number") or ""),
            str(c.get("api_base") or "https://api.twilio.com"),
            str(c.get("public_url") or ""),
        )

    async def start(self) -> None:
        """Makes the async Twilio client (its aiohttp session needs the running loop)."""
        self._http = AsyncTwilioHttpClient(timeout=15)
        self._client = Client(self.account_sid, self.auth_token, http_client=self._http)
        self._client.api.base_url = self.api_base

    async def close(self) -> None:
        """Closes the Twilio client's HTTP session."""
        if self._http is not None:
            await self._http.close()

    # -- inbound -----------------------------------------------------------------------
    def signed_params(self, request: Request) -> Dict[str, str]:
        """The form fields of a request Twilio signed.

        Raises:
            TooLarge: A body no Twilio webhook has.
            InvalidInput: Not a form.
            NotAllowed: Missing or wrong ``X-Twilio-Signature``.
        """
        if len(request.body or b"") > MAX_BODY_BYTES:
            raise TooLarge(f"a Twilio webhook has at most {MAX_BODY_BYTES} bytes")
        if not request.content_type.startswith("application/x-www-form-urlencoded"):
            raise InvalidInput("Twilio webhooks are form-encoded (application/x-www-form-urlencoded)")
        try:
            # Blank fields count in the signature (Sanic's request.form would drop them).
            pairs = parse_qsl((request.body or b"").decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as exc:
            raise InvalidInput("the form is not UTF-8") from exc
        params: Dict[str, str] = {}
        for name, value in pairs:
            params.setdefault(name, value)
        url = f"{self.public_url}{request.path}" if self.public_url else request.url
        if self.public_url and request.query_string:
            url += "?" + request.query_string
        signature = request.headers.get("x-twilio-signature", "")
        if not signature or not self.validator.validate(url, params, signature):
            raise NotAllowed("the X-Twilio-Signature does not match this request")
        return params

    async def parse(self, request: Request) -> List[InboundMessage]:
        """Reads one signed WhatsApp message (text and/or media)."""
        params = self.signed_params(request)
        sender, sid = params.get("From", ""), params.get("MessageSid", "")
        if not sender.startswith(PREFIX) or len(sender) <= len(PREFIX) or not sid:
            raise InvalidInput("From (whatsapp:+...) and MessageSid are required")
        # A tapped quick-reply button whose id is an option's number (the rating template's 1-5) stands for it;
        # any other template's button (an operator's own ids) arrives as its title, which the bot understands.
        payload = params.get("ButtonPayload", "").strip()
        text = payload if payload.isdigit() else params.get("Body", "")
        if len(text) > MAX_TEXT_CHARS:
            raise TooLarge(f"a message may have at most {MAX_TEXT_CHARS} characters")
        try:
            count = min(int(params.get("NumMedia") or 0), 10)
        except ValueError as exc:
            raise InvalidInput("NumMedia must be a number") from exc
        media = [
            {"url": params.get(f"MediaUrl{i}", ""), "content_type": params.get(f"MediaContentType{i}", "")}
            for i in range(count)
            if params.get(f"MediaUrl{i}")
        ]
        if not text.strip() and not media:
            raise InvalidInput("the message has neither Body nor media")
        msg = InboundMessage(cid="", channel=self.name(), text=text, message_id=sid,
                             address=sender[len(PREFIX):], media=media)
        await self.rt.redis.set(self.rt.keys.whatsapp_window(msg.address), repr(time.time()), ex=WINDOW_SECONDS)
        msg.metadata.update(provider_id=True, profile_name=params.get("ProfileName", ""))
        return [msg]

    def acknowledge(self, results: List[RouteResult]) -> HTTPResponse:
        """Twilio gets an empty TwiML answer at once; replies go through the REST API."""
        return HTTPResponse(EMPTY_TWIML, content_type="text/xml")

    def add_routes(self, bp: Blueprint, on_new_message: OnNewMessage) -> None:
        """``POST /status``: Twilio's delivery updates (sent, delivered, read, failed)."""
        channel = self

        @bp.route("/status", methods=["POST"])
        async def status(request: Request) -> HTTPResponse:
            try:
                params = channel.signed_params(request)
                sid, state = params.get("MessageSid", ""), params.get("MessageStatus", "")
                if not sid or not state:
                    raise InvalidInput("MessageSid and MessageStatus are required")
            except KesherError as exc:
                log.info("channel=whatsapp status refused status=%s reason=%s", status_of(exc), exc)
                return error_response(exc)
            if not await channel.record_status(sid, state):
                log.info("channel=whatsapp status %s for unknown message %s", state, sid)
            return HTTPResponse(EMPTY_TWIML, content_type="text/xml")

    # -- outbound -------------------------------------------------------------------------
    async def window_open(self, address: str) -> bool:
        """Whether the customer wrote within WhatsApp's 24-hour window (with a margin for the send itself)."""
        last = await self.rt.redis.get(self.rt.keys.whatsapp_window(address))
        return last is not None and time.time() - float(last) < WINDOW_SECONDS - WINDOW_MARGIN_SECONDS

    async def template_for(self, message: OutboundMessage) -> Optional[tuple[str, Dict[str, str]]]:
        """The template and variables ``message`` must go as outside the window; None when it needs none.

        Only agents' replies and notices are sent unasked; the bot and the queue answer a message the
        customer just wrote.

        Raises:
            Undeliverable: It needs a template and none is configured.
        """
        if message.template:
            name, raw = message.template, dict(message.template_vars)
        elif message.kind == "agent":
            name, raw = "agent_reply", {"1": message.author_name, "2": message.text}
        else:
            return None
        language = message.language or await self.rt.language_of(message.cid)
        variables = {key: template_value(value, language) for key, value in raw.items()}
        sid = whatsapp_template(self.rt.settings, name, language)
        if not sid:
            raise Undeliverable(
                f"outside WhatsApp's 24-hour window (the customer last wrote over 24 hours ago) and no approved "
                f"template is configured for {name} in {language} (TWILIO_CONTENT_{name.upper()}_{language.upper()})")
        return sid, variables

    async def number_options(self, message: OutboundMessage) -> OutboundMessage:
        """The options numbered and kept (see the base), and a rating question marked for its quick-reply template.

        The numbered text stays the fallback: the options are kept either way, so a typed number still answers.
        """
        numbered = await super().number_options(message)
        if not asks_for_rating(message):
            return numbered
        # The question's own language: a bot-only conversation has no handoff record to say it.
        language = message.language or ("he" if is_hebrew(message.text) else "en")
        if not whatsapp_template(self.rt.settings, CSAT_TEMPLATE, language):
            return numbered
        # The question as the template's one variable (template_for makes it one line, like any variable).
        return replace(numbered, template=CSAT_TEMPLATE, template_vars={"1": message.text}, language=language)

    async def send(self, address: str, message: OutboundMessage) -> Optional[str]:
        """Sends through Twilio; a long text goes as several messages, an image as media.

        Outside the 24-hour window an agent's reply or a notice goes as its approved template instead; a rating
        question goes as its quick-reply template whenever one is configured (:meth:`number_options`).
        """
        assert self._client is not None, "the channel is not started"
        if message.template == CSAT_TEMPLATE or (
                (message.template or message.kind == "agent") and not await self.window_open(address)):
            template = await self.template_for(message)
            if template is not None:
                try:
                    return await self._create(address, content_sid=template[0],
                                              content_variables=json.dumps(template[1], ensure_ascii=False))
                except Undeliverable as exc:
                    # A refused rating template (not approved, a wrong SID): inside the window the numbered
                    # question (the message's text) still gets through.
                    if message.template != CSAT_TEMPLATE or not await self.window_open(address):
                        raise
                    log.warning("channel=whatsapp csat template refused, sending the numbered question: %s", exc)
        # The markup first, then the name: the name's own *bold* must not be read as markup.
        text = for_phone(to_whatsapp(message.text), author_name=message.author_name if message.kind == "agent" else "",
                         bold=lambda name: f"*{name}*")
        parts = split_text(text, MAX_MESSAGE_CHARS) or [""]
        first: Optional[str] = None
        for i, part in enumerate(parts):
            extra: Dict[str, Any] = {}
            if message.image and i == 0:
                extra["media_url"] = [message.image]
            sid = await self._create(address, body=part, **extra)
            first = first or sid
        return first

    async def _create(self, address: str, **fields: Any) -> Optional[str]:
        """One ``messages.create`` call; Twilio's refusals become :class:`Undeliverable`."""
        assert self._client is not None, "the channel is not started"
        if self.public_url and "status_callback" not in fields:
            fields["status_callback"] = f"{self.public_url}/webhooks/whatsapp/status"
        try:
            sent = await self._client.messages.create_async(to=PREFIX + address, from_=self.from_number, **fields)
        except TwilioRestException as exc:
            if 400 <= exc.status < 500 and exc.status != 429:
                raise Undeliverable(f"Twilio refused the message ({exc.status}): {exc.msg}") from exc
            raise DeliveryError(f"Twilio answered {exc.status}") from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(f"Twilio unreachable: {exc or type(exc).__name__}") from exc
        return str(sent.sid) if sent.sid else None
