"""A stand-in for Twilio's Programmable Messaging REST API on loopback, recording what it is sent.

:class:`FakeTwilio` serves ``POST /2010-04-01/Accounts/{AccountSid}/Messages.json`` the way
``api.twilio.com`` does (HTTP Basic auth, form-encoded body, a ``201`` Message resource or a
Twilio-style JSON error), so tests can point the real ``twilio`` client at it::

    with FakeTwilio(ACCOUNT_SID, AUTH_TOKEN) as fake:
        client = Client(ACCOUNT_SID, AUTH_TOKEN, http_client=AsyncTwilioHttpClient())
        client.api.base_url = fake.base_url  # every api.twilio.com request goes to the fake
        await client.messages.create_async(to="whatsapp:+972501234567", from_=WHATSAPP_FROM, body="hi")

The module also builds what Twilio sends *to* Kesher: a WhatsApp inbound message form
(:func:`inbound_params`), a delivery-status callback form (:func:`status_params`) and the
``X-Twilio-Signature`` header that signs either (:func:`sign`, :func:`signed_webhook`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import json
import re
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple
from urllib.parse import parse_qs, urlsplit

from twilio.request_validator import RequestValidator

from tests.helpers.local_server import LocalServer, QuietHandler

API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0" * 31 + "1"
DEFAULT_AUTH_TOKEN = "fake-twilio-auth-token-0123456789"
WHATSAPP_FROM = "whatsapp:+14155238886"
"""Twilio's WhatsApp sandbox number, the usual ``From`` of a test deployment."""

MAX_BODY_CHARS = 1600
_MESSAGES_PATH = re.compile(rf"^/{API_VERSION}/Accounts/(?P<account>[^/]+)/Messages\.json$")


def new_sid(prefix: str) -> str:
    """A Twilio resource SID: a two-letter prefix and 32 lowercase hex digits.

    Args:
        prefix: ``"SM"`` (message), ``"MM"`` (message with media), ``"ME"`` (media), ...

    Returns:
        The SID, e.g. ``"SM3f0c…"``.
    """
    return prefix + uuid.uuid4().hex


def _rfc2822_now() -> str:
    return format_datetime(datetime.now(UTC).replace(microsecond=0))


def _error_body(status: int, path: str, code: Optional[int] = None, message: Optional[str] = None) -> Dict[str, Any]:
    """Twilio's JSON error document (https://www.twilio.com/docs/usage/twilios-response#response-formats-exceptions)."""
    defaults = {
        401: (20003, "Authenticate"),
        404: (20404, f"The requested resource {path} was not found"),
        405: (20004, "Method not allowed"),
        429: (20429, "Too Many Requests"),
        503: (20503, "Service unavailable"),
    }
    default_code, default_message = defaults.get(status, (20000 + status, "Internal Server Error"))
    code = code if code is not None else default_code
    return {
        "code": code,
        "message": message if message is not None else default_message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


@dataclass
class SentMessage:
    """One ``Messages.json`` request the fake received.

    Attributes:
        to: The ``To`` field (``"whatsapp:+972…"``).
        from_: The ``From`` field.
        body: The ``Body`` field (``""`` if absent).
        media_url: Every ``MediaUrl`` field, in order.
        status_callback: The ``StatusCallback`` field, if any.
        content_sid: The ``ContentSid`` field (an approved template, Twilio's Content API), if any.
        content_variables: The ``ContentVariables`` field parsed from its JSON (``{}`` if absent).
        sid: The Message SID the fake answered with; ``None`` if the request was rejected.
        raw: The whole form as ``urllib.parse.parse_qs`` gives it (every value is a list).
        http_status: What the fake answered: ``201`` for an accepted message, else the error status.
        at: When the request arrived (``time.monotonic()``).
    """

    to: str
    from_: str
    body: str
    media_url: List[str]
    status_callback: Optional[str]
    sid: Optional[str]
    raw: Dict[str, List[str]]
    content_sid: Optional[str] = None
    content_variables: Dict[str, str] = field(default_factory=dict)
    http_status: int = 201
    at: float = field(default_factory=time.monotonic)


@dataclass
class _Failure:
    status: int
    code: Optional[int] = None
    message: Optional[str] = None


@dataclass
class _State:
    requests: List[SentMessage] = field(default_factory=list)
    failures: List[_Failure] = field(default_factory=list)


class FakeTwilio(LocalServer):
    """Twilio's Messages API on ``127.0.0.1`` (a free port), served from a daemon thread.

    Use it as a context manager or call :meth:`close`. It works from sync and async tests
    alike: the server has its own thread, and :meth:`wait_for_async` waits without blocking
    the event loop.

    Args:
        account_sid: The account SID the client must authenticate as (and use in the URL).
        auth_token: The auth token the client must authenticate with.
    """

    def __init__(self, account_sid: str = DEFAULT_ACCOUNT_SID, auth_token: str = DEFAULT_AUTH_TOKEN) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._state = _State()
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw_body = self.rfile.read(length).decode("utf-8")
                status, payload = fake._handle_post(self.path, self.headers.get("Authorization"), raw_body)
                self._reply(status, payload)

            def do_GET(self) -> None:
                self._reply(405, _error_body(405, self.path))

            def _reply(self, status: int, payload: Dict[str, Any]) -> None:
                data = json.dumps(payload).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Twilio-Request-Id", new_sid("RQ"))
                if status == 401:
                    self.send_header("WWW-Authenticate", 'Basic realm="Twilio API"')
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler, "fake-twilio")

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def messages_url(self) -> str:
        """The full ``Messages.json`` URL of this fake's account."""
        return f"{self.base_url}/{API_VERSION}/Accounts/{self.account_sid}/Messages.json"

    # -- what was received -------------------------------------------------------------------

    @property
    def messages(self) -> List[SentMessage]:
        """Every message the fake accepted (answered ``201``), in arrival order."""
        with self.cond:
            return [m for m in self._state.requests if m.http_status == 201]

    @property
    def requests(self) -> List[SentMessage]:
        """Every ``POST`` the fake received, rejected ones (401, :meth:`fail_next`, 400) included."""
        with self.cond:
            return list(self._state.requests)

    def messages_to(self, to: str) -> List[SentMessage]:
        """The accepted messages whose ``To`` is ``to`` (e.g. ``"whatsapp:+972501234567"``)."""
        return [m for m in self.messages if m.to == to]

    def wait(self, predicate: Callable[[List[SentMessage]], bool], timeout: float = 30) -> List[SentMessage]:
        """Blocks until ``predicate(accepted messages)`` holds; returns those messages.

        Args:
            predicate: Called with every accepted message so far, each time one arrives.
            timeout: Seconds to wait.

        Returns:
            The accepted messages when ``predicate`` first held.

        Raises:
            AssertionError: If ``timeout`` passed first.
        """
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [m for m in self._state.requests if m.http_status == 201]
                if predicate(got):
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(m.to, m.body, m.http_status) for m in self._state.requests]
                    raise AssertionError(f"timed out waiting for Twilio messages; received (to, body, status): {seen}")
                self.cond.wait(left)

    def wait_for(self, to: str, count: int = 1, timeout: float = 30) -> List[SentMessage]:
        """Blocks until at least ``count`` messages to ``to`` were accepted; returns all of them.

        Do not call this from a coroutine whose event loop must keep running to send the
        messages; use :meth:`wait_for_async` there.

        Args:
            to: The ``To`` address.
            count: How many messages to wait for.
            timeout: Seconds to wait.

        Returns:
            Every accepted message to ``to`` (at least ``count``).

        Raises:
            AssertionError: If ``timeout`` passed first.
        """
        got = self.wait(lambda msgs: len([m for m in msgs if m.to == to]) >= count, timeout)
        return [m for m in got if m.to == to]

    async def wait_for_async(
        self, to: str, count: int = 1, timeout: float = 30  # noqa: ASYNC109 - bounds the worker thread's wait
    ) -> List[SentMessage]:
        """:meth:`wait_for` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.wait_for, to, count, timeout)

    def fail_next(
        self, n: int = 1, status: int = 500, code: Optional[int] = None, message: Optional[str] = None
    ) -> None:
        """Makes the next ``n`` ``Messages.json`` requests fail (after authentication).

        Args:
            n: How many requests fail.
            status: Their HTTP status (e.g. 500, 503, 429).
            code: Twilio error code in the body; by default 20000 + ``status`` (e.g. 20500, 20429).
            message: Error message in the body.
        """
        with self.cond:
            self._state.failures.extend(_Failure(status, code, message) for _ in range(n))

    def clear(self) -> None:
        """Forgets what was received and any pending :meth:`fail_next`."""
        with self.cond:
            self._state = _State()

    # -- the API -----------------------------------------------------------------------------

    def _authorized(self, header: Optional[str]) -> bool:
        if not header or not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:], validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        return (user, password) == (self.account_sid, self.auth_token)

    def _handle_post(self, raw_path: str, authorization: Optional[str], raw_body: str) -> Tuple[int, Dict[str, Any]]:
        path = urlsplit(raw_path).path
        form = parse_qs(raw_body, keep_blank_values=True)

        def first(name: str) -> Optional[str]:
            values = form.get(name)
            return values[0] if values else None

        record = SentMessage(
            to=first("To") or "",
            from_=first("From") or "",
            body=first("Body") or "",
            media_url=list(form.get("MediaUrl", [])),
            status_callback=first("StatusCallback"),
            sid=None,
            raw=form,
            content_sid=first("ContentSid"),
        )
        try:
            variables = json.loads(first("ContentVariables") or "{}")
        except ValueError:
            variables = None
        record.content_variables = variables if isinstance(variables, dict) else {}
        status, payload = self._respond(path, authorization, record)
        with self.cond:
            record.http_status = status
            if status == 201:
                record.sid = payload["sid"]
            self._state.requests.append(record)
            self.cond.notify_all()
        return status, payload

    def _respond(self, path: str, authorization: Optional[str], msg: SentMessage) -> Tuple[int, Dict[str, Any]]:
        if not self._authorized(authorization):
            return 401, _error_body(401, path)
        match = _MESSAGES_PATH.match(path)
        if match is None or match.group("account") != self.account_sid:
            return 404, _error_body(404, path)
        with self.cond:
            failure = self._state.failures.pop(0) if self._state.failures else None
        if failure is not None:
            return failure.status, _error_body(failure.status, path, failure.code, failure.message)
        if not msg.to:
            return 400, _error_body(400, path, 21604, "A 'To' phone number is required.")
        if not msg.from_ and not msg.raw.get("MessagingServiceSid"):
            return 400, _error_body(400, path, 21603, "A 'From' phone number is required.")
        if not msg.body and not msg.media_url and not msg.raw.get("ContentSid"):
            return 400, _error_body(400, path, 21619, "A text message body or media urls must be specified.")
        if msg.raw.get("ContentVariables") and not msg.content_variables:
            return 400, _error_body(400, path, 21656, "The ContentVariables Parameter is invalid.")
        if len(msg.body) > MAX_BODY_CHARS:
            return 400, _error_body(
                400, path, 21617, f"The concatenated message body exceeds the {MAX_BODY_CHARS} character limit."
            )
        return 201, self._message_resource(msg)

    def _message_resource(self, msg: SentMessage) -> Dict[str, Any]:
        sid = new_sid("MM" if msg.media_url else "SM")
        now = _rfc2822_now()
        uri = f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}"
        service = msg.raw.get("MessagingServiceSid")
        return {
            "account_sid": self.account_sid,
            "api_version": API_VERSION,
            "body": msg.body,
            "date_created": now,
            "date_sent": None,
            "date_updated": now,
            "direction": "outbound-api",
            "error_code": None,
            "error_message": None,
            "from": msg.from_ or None,
            "messaging_service_sid": service[0] if service else None,
            "num_media": str(len(msg.media_url)),
            "num_segments": "1",
            "price": None,
            "price_unit": "USD",
            "sid": sid,
            "status": "queued",
            "subresource_uris": {"media": f"{uri}/Media.json"},
            "to": msg.to,
            "uri": f"{uri}.json",
        }


# -- what Twilio sends to Kesher ------------------------------------------------------------------


def _whatsapp(address: str) -> str:
    return address if address.startswith("whatsapp:") else f"whatsapp:{address}"


def sign(url: str, params: Mapping[str, Any], auth_token: str = DEFAULT_AUTH_TOKEN) -> str:
    """The ``X-Twilio-Signature`` Twilio would send with a webhook.

    Args:
        url: The full URL Twilio posts to (as configured in the console, query string included).
        params: The form fields of the POST.
        auth_token: The account's auth token.

    Returns:
        The base64 HMAC-SHA1 signature.
    """
    return str(RequestValidator(auth_token).compute_signature(url, dict(params)))


def signed_webhook(url: str, params: Mapping[str, Any], auth_token: str = DEFAULT_AUTH_TOKEN) -> Dict[str, str]:
    """Headers for POSTing ``params`` to ``url`` as Twilio does (form-encoded, signed).

    Args:
        url: The full URL the request goes to.
        params: The form fields of the POST.
        auth_token: The account's auth token.

    Returns:
        ``{"X-Twilio-Signature": ..., "Content-Type": "application/x-www-form-urlencoded", ...}``.
    """
    return {
        "X-Twilio-Signature": sign(url, params, auth_token),
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
        "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
    }


def inbound_params(
    from_: str,
    to: str = WHATSAPP_FROM,
    body: str = "",
    message_sid: Optional[str] = None,
    media: Sequence[Tuple[str, str]] = (),
    profile_name: str = "",
    account_sid: str = DEFAULT_ACCOUNT_SID,
    button: Optional[Tuple[str, str]] = None,
) -> Dict[str, str]:
    """The form Twilio POSTs to the incoming-message webhook for a WhatsApp message.

    Args:
        from_: The customer, ``"+972501234567"`` or ``"whatsapp:+972501234567"``.
        to: The business number, with or without the ``whatsapp:`` prefix.
        body: The text (``""`` for a media-only message).
        message_sid: The Message SID; a new ``SM…`` (``MM…`` with media) by default.
        media: ``(url, content_type)`` for each attachment.
        profile_name: The customer's WhatsApp profile name.
        account_sid: The receiving account.
        button: ``(title, id)`` of the quick-reply button the customer tapped: Twilio sends the title as
            ``Body`` and ``ButtonText``, the id as ``ButtonPayload``, with ``MessageType`` ``button``.

    Returns:
        Every field as a string, as Twilio sends them.
    """
    customer = _whatsapp(from_)
    sid = message_sid or new_sid("MM" if media else "SM")
    params: Dict[str, str] = {
        "SmsMessageSid": sid,
        "NumMedia": str(len(media)),
        "ProfileName": profile_name,
        "MessageType": media[0][1].split("/")[0] if media else "text",
        "SmsSid": sid,
        "WaId": customer.removeprefix("whatsapp:").lstrip("+"),
        "SmsStatus": "received",
        "Body": body,
        "To": _whatsapp(to),
        "NumSegments": "1",
        "ReferralNumMedia": "0",
        "MessageSid": sid,
        "AccountSid": account_sid,
        "From": customer,
        "ApiVersion": API_VERSION,
    }
    for i, (url, content_type) in enumerate(media):
        params[f"MediaContentType{i}"] = content_type
        params[f"MediaUrl{i}"] = url
    if button is not None:
        params.update(Body=button[0], ButtonText=button[0], ButtonPayload=button[1], MessageType="button")
    return params


def status_params(
    message_sid: str,
    status: str,
    to: str,
    error_code: Optional[int] = None,
    from_: str = WHATSAPP_FROM,
    account_sid: str = DEFAULT_ACCOUNT_SID,
) -> Dict[str, str]:
    """The form Twilio POSTs to a message's ``StatusCallback`` when its status changes.

    Args:
        message_sid: The outbound message's SID.
        status: ``queued``, ``sent``, ``delivered``, ``read``, ``failed`` or ``undelivered``.
        to: The customer, with or without the ``whatsapp:`` prefix.
        error_code: Twilio's error code for ``failed``/``undelivered`` (e.g. 63016).
        from_: The business number.
        account_sid: The sending account.

    Returns:
        Every field as a string, as Twilio sends them.
    """
    customer = _whatsapp(to)
    params: Dict[str, str] = {
        "ChannelPrefix": "whatsapp",
        "ApiVersion": API_VERSION,
        "MessageStatus": status,
        "SmsSid": message_sid,
        "SmsStatus": status,
        "ChannelInstallSid": "XE" + uuid.uuid5(uuid.NAMESPACE_URL, account_sid).hex,
        "To": customer,
        "From": _whatsapp(from_),
        "MessageSid": message_sid,
        "StructuredMessage": "false",
        "AccountSid": account_sid,
        "ChannelToAddress": customer.removeprefix("whatsapp:"),
    }
    if error_code is not None:
        params["ErrorCode"] = str(error_code)
    return params
