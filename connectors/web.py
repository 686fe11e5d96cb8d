"""The website chat widget: one script tag, a websocket, history that survives a reload.

Routes under ``/webhooks/web/``: ``widget.js``, ``widget.css`` and a ``demo``
page (served from ``connectors/web_static``, nothing from a CDN; ``widget.js``
goes out with the catalog's ``widget_*`` texts of both languages inside it, so
the one script tag needs no second request); ``POST
/session`` issues a signed session; ``GET /socket`` is the widget's websocket;
``POST /webhook`` takes a message over plain HTTP (integrations, benchmarks);
``/notices/unsubscribe`` is the notice e-mails' unsubscribe page
(``connectors/unsubscribe.py``).

The widget's session is the customer's address on this channel. Its token
signs the session and when it was issued; a token older than
``KESHER_WEB_SESSION_MAX_AGE`` is refused (403) and the widget starts a new
session. Pages of the origins in ``KESHER_WEB_ORIGINS`` may embed the widget
(empty: only its own origin, the demo page). New sessions are limited per
client address and messages per session and per client address (429, or an
error frame on the socket that the widget shows politely). Every
message the customer sees (their own, the bot's, the agent's) gets a sequence
number and is kept in a capped Redis list, so a reconnecting widget asks for
what came after the last number it showed. Messages reach the socket through a
Redis pub/sub signal, so the customer's socket may live in any ``rasa run``
process.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json as jsonlib
import logging
import re
import time
import uuid
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Set, Tuple

import yaml
from redis.exceptions import RedisError
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, file, json

from connectors.base import MAX_TEXT_CHARS, KesherInputChannel, OnNewMessage
from connectors.runtime import ChannelRuntime
from connectors.unsubscribe import add_unsubscribe_routes
from core import channels
from core.errors import Conflict, InvalidInput, KesherError, NotAllowed, TimedOut, TooLarge, Unavailable
from core.language import LANGUAGES, detect_language
from core.texts import TextCatalog
from edge.browser import message_format_js
from edge.errors import error_frame, error_response, status_of
from edge.limits import Check, Limit, client_address
from edge.requests import json_object, parse_json_object, same_secret
from edge.ws import SOCKET_GONE, receive
from handoff.models import ConversationState, OutboundMessage
from handoff.router import InboundMessage
from handoff.uploads import image_type

__all__ = ["WebChannel", "widget_script"]

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "web_static"
STATIC_FILES = {
    "widget.js": "application/javascript; charset=utf-8",
    "widget.css": "text/css; charset=utf-8",
    "demo": "text/html; charset=utf-8",
}
HISTORY_LENGTH = 200
HISTORY_TTL_SECONDS = 30 * 24 * 3600
HELLO_TIMEOUT_SECONDS = 15
MAX_FRAME_CHARS = 4 * MAX_TEXT_CHARS
# Where widget.js holds its texts (an empty object the served script has filled in) and the
# catalog's message format (edge/static/message-format.js).
_TEXTS_SLOT = re.compile(r"/\*kesher:texts\*/.*?/\*kesher:end\*/", re.DOTALL)
_FORMAT_SLOT = "/*kesher:message-format*/"
_TOPICS_SLOT = re.compile(r"/\*kesher:topics\*/.*?/\*kesher:topics-end\*/", re.DOTALL)
_SESSION = re.compile(r"[A-Za-z0-9_-]{1,64}")
_TOKEN = re.compile(r"(\d{1,12})\.([0-9a-f]{64})")

# Appends one entry to a web conversation's history with the next sequence number.
_APPEND = """
local seq = redis.call('INCR', KEYS[1])
local entry = '{"seq":' .. seq .. ',' .. string.sub(ARGV[1], 2)
redis.call('RPUSH', KEYS[2], entry)
redis.call('LTRIM', KEYS[2], -tonumber(ARGV[2]), -1)
redis.call('EXPIRE', KEYS[1], ARGV[3])
redis.call('EXPIRE', KEYS[2], ARGV[3])
return entry
"""


def widget_script(texts: TextCatalog) -> bytes:
    """``widget.js`` with the catalog's ``widget_*`` texts of both languages and its message format in it.

    Raises:
        RuntimeError: The file has no place for the texts or the message format.
    """
    source = (STATIC_DIR / "widget.js").read_text(encoding="utf-8")
    if source.count(_FORMAT_SLOT) != 1:
        raise RuntimeError(f"{STATIC_DIR / 'widget.js'} needs one {_FORMAT_SLOT} for the message format")
    source = source.replace(_FORMAT_SLOT, message_format_js())
    catalog = {language: texts.templates("widget_", language) for language in LANGUAGES}
    literal = jsonlib.dumps(catalog, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")
    filled, count = _TEXTS_SLOT.subn(lambda _: literal, source)
    if count != 1:
        raise RuntimeError(f"{STATIC_DIR / 'widget.js'} needs one /*kesher:texts*/ ... /*kesher:end*/ for its texts")
    topics = {language: [{"title": b.title, "payload": b.payload}
                         for b in texts.message("widget_greeting", language).buttons]
              for language in LANGUAGES}
    literal = jsonlib.dumps(topics, ensure_ascii=False, sort_keys=True).replace("</", "<\\/")
    filled, count = _TOPICS_SLOT.subn(lambda _: literal, filled)
    if count != 1:
        raise RuntimeError(f"{STATIC_DIR / 'widget.js'} needs one /*kesher:topics*/ ... for its quick topics")
    return filled.encode("utf-8")


# The FAQ answer that says from what amount shipping is free, and where it says it.
_SHIPPING_FAQ = "utter_faq/shipping_cost"
_FREE_OVER = re.compile(r"free[^.]*?₪\s?(\d[\d,]*)", re.IGNORECASE)


def free_shipping_threshold(content_dir: Path) -> str:
    """The free-shipping amount the FAQ gives (``domain/faq.yml``), so the demo page says the same.

    Raises:
        RuntimeError: The FAQ answer is missing or names no amount.
    """
    faq = yaml.safe_load((content_dir / "domain" / "faq.yml").read_text(encoding="utf-8")) or {}
    for variation in (faq.get("responses") or {}).get(_SHIPPING_FAQ) or []:
        found = _FREE_OVER.search(str(variation.get("text") or ""))
        if found:
            return found.group(1)
    raise RuntimeError(f"domain/faq.yml: {_SHIPPING_FAQ} names no free-shipping amount (\"free ... ₪N\")")


def demo_page(content_dir: Path) -> bytes:
    """The demo page, its free-shipping amount taken from the FAQ."""
    page = (STATIC_DIR / "demo.html").read_text(encoding="utf-8")
    return page.replace("{{free_shipping}}", free_shipping_threshold(content_dir)).encode("utf-8")


class WebChannel(KesherInputChannel):
    """The website widget's channel (see the module docstring)."""

    def __init__(self, secret: str, allowed_origins: str = "", rt: Optional[ChannelRuntime] = None,
                 clock: Callable[[], float] = time.time) -> None:
        """Keeps the signing secret; opens nothing.

        Args:
            secret: Signs session ids (``KESHER_WEB_SECRET``).
            allowed_origins: Space-separated origins that may embed the widget, ``*`` for any,
                empty for the widget's own origin only (``KESHER_WEB_ORIGINS``).
            rt: The process runtime (tests pass their own).
            clock: Epoch seconds (sessions' age).
        """
        super().__init__(rt)
        if not secret:
            raise ValueError("the web channel needs a secret (KESHER_WEB_SECRET)")
        self.secret = secret.encode()
        self.allowed_origins = set(allowed_origins.split())
        self.clock = clock
        self.sockets: Dict[str, Set[Any]] = {}
        self._script: Optional[Tuple[bytes, str]] = None
        self._demo: Optional[bytes] = None

    @classmethod
    def name(cls) -> str:
        """The channel's name in routes and in the outbound stream."""
        return channels.WEB

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> WebChannel:
        """Built by Rasa from ``credentials.yml``."""
        credentials = credentials or {}
        return cls(str(credentials.get("secret") or ""), str(credentials.get("allowed_origins") or ""))

    # -- sessions ----------------------------------------------------------------------
    def sign(self, session: str, issued: int) -> str:
        """The token that proves ``session`` was issued here at ``issued`` (epoch seconds)."""
        digest = hmac.new(self.secret, f"{session}.{issued}".encode(), hashlib.sha256).hexdigest()
        return f"{issued}.{digest}"

    def new_session(self) -> Dict[str, str]:
        """A fresh session id and its token."""
        session = uuid.uuid4().hex
        return {"session": session, "token": self.sign(session, int(self.clock()))}

    @property
    def session_max_age(self) -> int:
        """Seconds a session is accepted after it was issued (``KESHER_WEB_SESSION_MAX_AGE``)."""
        return self.rt.settings.web_session_max_age

    def check_session(self, session: Any, token: Any) -> str:
        """The session id, if ``token`` signs it and it is not too old.

        Raises:
            NotAllowed: Missing, malformed, forged or expired (the widget then starts a new session).
        """
        if not isinstance(session, str) or not isinstance(token, str):
            raise NotAllowed("a session and its token are required; get one from POST /session")
        parts = _TOKEN.fullmatch(token)
        if not _SESSION.fullmatch(session) or parts is None:
            raise NotAllowed("this session or its token is malformed; get a new one from POST /session")
        if not same_secret(token, self.sign(session, int(parts.group(1)))):
            raise NotAllowed("this session was not issued here; get a new one from POST /session")
        age = self.clock() - int(parts.group(1))
        if age > self.session_max_age or age < -60:
            raise NotAllowed("this session has expired; get a new one from POST /session")
        return session

    def origin_allowed(self, request: Request) -> bool:
        """Whether the page that sent ``request`` may use the widget (no Origin: not a browser page)."""
        origin = request.headers.get("origin", "")
        if not origin or "*" in self.allowed_origins or origin in self.allowed_origins:
            return True
        # The widget's own origin (its demo page): the browser sends the Host it connected to.
        own = {f"{scheme}://{request.host}" for scheme in ("http", "https")}
        return origin in own

    def check_origin(self, request: Request) -> None:
        """Refuses pages not allowed to embed the widget.

        Raises:
            NotAllowed: The request's Origin is not allowed.
        """
        if not self.origin_allowed(request):
            raise NotAllowed(f"the widget is not enabled for {request.headers.get('origin', '')!r} "
                             "(KESHER_WEB_ORIGINS)")

    async def check_new_session(self, request: Request) -> None:
        """Counts a new session against its client address's limit.

        Raises:
            TooManyRequests: Too many new sessions from this address.
        """
        limit = Limit.parse(self.rt.settings.limit_sessions_per_source)
        await self.limiter().hit([Check("web-session:source", client_address(request), limit,
                                        "new chat sessions from this address")])

    def cors(self, request: Request, response: HTTPResponse) -> HTTPResponse:
        """Lets allowed pages on other origins call the widget's routes."""
        origin = request.headers.get("origin", "")
        if origin and self.origin_allowed(request):
            response.headers["access-control-allow-origin"] = origin
            response.headers["access-control-allow-methods"] = "GET, POST, OPTIONS"
            response.headers["access-control-allow-headers"] = (
                "content-type, x-kesher-session, x-kesher-token, x-kesher-message-id")
            response.headers["vary"] = "origin"
        return response

    # -- inbound over HTTP --------------------------------------------------------------
    async def parse(self, request: Request) -> List[InboundMessage]:
        """Reads ``{"session", "token", "text", "message_id"?, "payload"?}``."""
        self.check_origin(request)
        data = json_object(request, '{"session", "token", "text"}')
        session = self.check_session(data.get("session"), data.get("token"))
        return [self.message_from(session, data)]

    def message_from(self, session: str, data: Dict[str, Any]) -> InboundMessage:
        """One customer message from a widget frame or an HTTP body.

        Raises:
            InvalidInput: No text.
            TooLarge: Longer than the channel takes.
        """
        text, payload = data.get("text"), data.get("payload")
        if not isinstance(text, str):
            raise InvalidInput("text must be a string")
        if len(text) > MAX_TEXT_CHARS:
            raise TooLarge(f"a message may have at most {MAX_TEXT_CHARS} characters")
        if not text.strip() and not payload:
            raise InvalidInput("the message is empty")
        msg = InboundMessage(cid="", channel=self.name(), text=text, address=session)
        if isinstance(payload, str) and payload and len(payload) <= MAX_TEXT_CHARS:
            msg.metadata["option_title"] = text
            msg.text = payload
        message_id = data.get("message_id")
        if isinstance(message_id, str) and message_id:
            msg.message_id = message_id[:64]
            msg.metadata["provider_id"] = True
        return msg

    async def before_routing(self, msg: InboundMessage) -> None:
        """Echoes the customer's message into the history (other tabs and a reload show it)."""
        shown = str(msg.metadata.get("option_title") or msg.text)
        entry = {
            "message_id": msg.message_id, "role": "customer", "text": shown, "buttons": [],
            "author_name": "", "image": "", "ts": time.time(), "lang": detect_language(shown) or "",
        }
        if msg.media:
            entry["attachment"] = "image"  # the widget says "image sent"; the picture itself goes to the agent only
        await self.append(msg.cid, entry)

    # -- outbound ---------------------------------------------------------------------------
    async def send(self, address: str, message: OutboundMessage) -> Optional[str]:
        """Adds the message to the history and pushes it to the customer's open widgets."""
        await self.append(message.cid, {
            "message_id": message.message_id,
            "role": message.kind if message.kind in ("bot", "agent") else "system",
            "text": message.text,
            "buttons": [{"title": t, "payload": p} for t, p in message.buttons],
            "author_name": message.author_name,
            "image": message.image,
            "ts": time.time(),
            # The widget lays the bubble out by the message's language, not by its first letter.
            "lang": detect_language(message.text) or "",
        })
        return None

    async def append(self, cid: str, entry: Dict[str, Any]) -> Dict[str, Any]:
        """Stores an entry with the next sequence number and signals every process."""
        keys = self.rt.keys
        stored = await self.rt.redis.eval(
            _APPEND, 2, keys.web_seq(cid), keys.web_history(cid),
            jsonlib.dumps(entry, ensure_ascii=False), HISTORY_LENGTH, HISTORY_TTL_SECONDS,
        )
        full: Dict[str, Any] = jsonlib.loads(stored)
        status = await self.status(cid) if entry["role"] != "customer" else None
        await self.rt.publish({"kind": "web_message", "cid": cid, "entry": full, "status": status})
        return full

    async def history(self, cid: str, after: int) -> List[Dict[str, Any]]:
        """Entries with a sequence number above ``after``, oldest first."""
        rows = await self.rt.redis.lrange(self.rt.keys.web_history(cid), 0, -1)
        entries = [jsonlib.loads(r) for r in rows]
        return [e for e in entries if int(e.get("seq", 0)) > after]

    async def status(self, cid: str) -> Dict[str, Any]:
        """The conversation's handoff state for the widget's status bar."""
        assert self.rt.store is not None
        conv = await self.rt.store.get(cid)
        if conv is None:
            return {"state": ConversationState.BOT.value, "position": None, "agent_name": ""}
        queued = conv.state is ConversationState.QUEUED
        return {
            "state": conv.state.value,
            "position": await self.rt.store.position(cid) if queued else None,
            "agent_name": self.rt.container.agents.display_name(conv.agent_id, conv.language, conv.agent_name)
            if conv.state is ConversationState.WITH_AGENT else "",
        }

    async def on_signal(self, signal: Dict[str, Any]) -> None:
        """Forwards messages and agent typing to this process's sockets of the conversation."""
        sockets = self.sockets.get(str(signal.get("cid", "")))
        if not sockets:
            return
        frames: List[Dict[str, Any]] = []
        if signal.get("kind") == "web_message":
            frames.append({"type": "message", **signal["entry"]})
            if signal.get("status"):
                frames.append({"type": "status", **signal["status"]})
        elif signal.get("kind") == "typing":
            frames.append({"type": "typing", "who": "agent", "name": signal.get("name", "")})
        for ws in list(sockets):
            for frame in frames:
                await _send(ws, frame)

    async def take_upload(self, request: Request, on_new_message: OnNewMessage) -> str:
        """An image the customer sends to the agent during a handoff: the raw body, the session in headers.

        Raises:
            NotAllowed: Bad session or origin (403).
            Conflict: No person has the conversation (the bot cannot look at images).
            TooLarge, InvalidInput: Over the size limit, or not a PNG, JPEG, WebP or GIF image.
        """
        self.check_origin(request)
        session = self.check_session(request.headers.get("x-kesher-session"), request.headers.get("x-kesher-token"))
        body = request.body or b""
        image_type(body)  # refused before anything is counted or stored
        cid = await self.rt.identity.resolve(self.name(), session)
        assert self.rt.store is not None
        conv = await self.rt.store.get(cid)
        if conv is None or conv.state not in (ConversationState.QUEUED, ConversationState.WITH_AGENT):
            raise Conflict("images reach a person only during a handoff")
        msg = InboundMessage(cid="", channel=self.name(), text="", address=session)
        message_id = request.headers.get("x-kesher-message-id", "")
        if message_id:
            msg.message_id = message_id[:64]
            msg.metadata["provider_id"] = True
        await self.within_limits(client_address(request), msg)
        upload_id = await self.rt.container.uploads.put(cid, body)
        msg.media = [{"url": "", "content_type": image_type(body), "upload": upload_id}]
        await self.receive(msg, on_new_message)
        return upload_id

    async def script(self) -> Tuple[bytes, str]:
        """``widget.js`` with its texts and its ETag, built once per process (like the catalog)."""
        if self._script is None:
            body = await asyncio.get_running_loop().run_in_executor(None, widget_script, self.rt.texts)
            self._script = body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        return self._script

    async def demo(self) -> bytes:
        """The demo page (built once per process)."""
        if self._demo is None:
            self._demo = await asyncio.get_running_loop().run_in_executor(
                None, demo_page, self.rt.settings.content_dir)
        return self._demo

    # -- routes ------------------------------------------------------------------------------
    def add_routes(self, bp: Blueprint, on_new_message: OnNewMessage) -> None:
        """The widget's files, sessions and websocket."""
        channel = self

        @bp.route("/<name:(widget\\.js|widget\\.css|demo)>", methods=["GET"])
        async def static(request: Request, name: str) -> HTTPResponse:
            # no-cache: browsers keep a copy but ask each time whether it is still current.
            if name == "widget.js":
                body, etag = await channel.script()
                headers = {"cache-control": "no-cache", "etag": etag}
                if etag in request.headers.get("if-none-match", ""):
                    return HTTPResponse(status=304, headers=headers)
                return HTTPResponse(body, headers=headers, content_type=STATIC_FILES[name])
            if name == "demo":
                return HTTPResponse(await channel.demo(), headers={"cache-control": "no-cache"},
                                    content_type=STATIC_FILES[name])
            return await file(STATIC_DIR / name, mime_type=STATIC_FILES[name], headers={"cache-control": "no-cache"})

        @bp.route("/session", methods=["POST", "OPTIONS"])
        async def session(request: Request) -> HTTPResponse:
            if request.method == "OPTIONS":
                return channel.cors(request, HTTPResponse(status=204))
            try:
                channel.check_origin(request)
                await channel.check_new_session(request)
            except KesherError as exc:
                return channel.cors(request, error_response(exc))
            except RedisError as exc:
                log.error("web: no session, redis unavailable: %s", exc)
                return error_response(Unavailable("temporarily unavailable, please retry"))
            return channel.cors(request, json(channel.new_session()))

        @bp.route("/upload", methods=["POST", "OPTIONS"])
        async def upload(request: Request) -> HTTPResponse:
            if request.method == "OPTIONS":
                return channel.cors(request, HTTPResponse(status=204))
            try:
                upload_id = await channel.take_upload(request, on_new_message)
            except KesherError as exc:
                return channel.cors(request, error_response(exc))
            except RedisError as exc:
                log.error("web: image not taken, redis unavailable: %s", exc)
                return channel.cors(request, error_response(Unavailable("temporarily unavailable, please retry")))
            return channel.cors(request, json({"upload": upload_id}, status=201))

        @bp.route("/webhook", methods=["OPTIONS"])
        async def preflight(request: Request) -> HTTPResponse:
            return channel.cors(request, HTTPResponse(status=204))

        @bp.websocket("/socket")
        async def socket(request: Request, ws: Any) -> None:
            await channel.converse(request, ws, on_new_message)

        # The notice e-mails' unsubscribe page: on this channel because it is the customers' public listener.
        add_unsubscribe_routes(bp, lambda: channel.rt)

    async def converse(self, request: Request, ws: Any, on_new_message: OnNewMessage) -> None:
        """One widget connection: hello (session check, missed messages), then messages both ways."""
        try:
            self.check_origin(request)
            try:
                first = await asyncio.wait_for(receive(ws), HELLO_TIMEOUT_SECONDS)
            except TimeoutError as exc:
                raise TimedOut(f"no hello within {HELLO_TIMEOUT_SECONDS} s") from exc
            hello = _frame(first)
            if hello.get("type") != "hello":
                raise InvalidInput("the first frame must be a hello")
            session = self.check_session(hello.get("session"), hello.get("token"))
        except KesherError as exc:
            await _send(ws, error_frame(exc))
            await ws.close(code=4000 + status_of(exc))
            return
        cid = await self.rt.identity.resolve(self.name(), session)
        self.sockets.setdefault(cid, set()).add(ws)
        try:
            after = hello["after"] if isinstance(hello.get("after"), int) else 0
            await _send(ws, {"type": "hello", "status": await self.status(cid),
                             "history": await self.history(cid, after)})

            async def to_bot(message: Any) -> None:
                await _send(ws, {"type": "typing", "who": "bot", "name": ""})
                await on_new_message(message)

            while True:
                raw = await receive(ws)
                if raw is None:
                    break
                await self._on_frame(session, raw, ws, to_bot, client_address(request))
        finally:
            self.sockets[cid].discard(ws)
            if not self.sockets[cid]:
                del self.sockets[cid]

    async def _on_frame(self, session: str, raw: str, ws: Any, to_bot: OnNewMessage, source: str) -> None:
        msg: Optional[InboundMessage] = None
        try:
            data = _frame(raw)
            if data.get("type") == "typing":
                return
            if data.get("type") != "message":
                raise InvalidInput('frames are {"type": "message", "text": ...} or {"type": "typing"}')
            msg = self.message_from(session, data)
            await self.within_limits(source, msg)
            await self.receive(msg, to_bot)
        except KesherError as exc:
            # The message's id: the widget may send the same message again (a retry, counted by the base).
            await _send(ws, {**error_frame(exc), **({"message_id": msg.message_id} if msg is not None else {})})
        except RedisError as exc:
            log.error("web: message not taken, redis unavailable: %s", exc)
            await _send(ws, error_frame(Unavailable("temporarily unavailable, please retry")))


def _frame(raw: Optional[str]) -> Dict[str, Any]:
    if raw is None:
        raise InvalidInput("the connection closed")
    if len(raw) > MAX_FRAME_CHARS:
        raise TooLarge(f"a message may have at most {MAX_TEXT_CHARS} characters")
    return parse_json_object(raw, '{"type": "message", "text": ...}', max_bytes=4 * MAX_FRAME_CHARS)


async def _send(ws: Any, frame: Dict[str, Any]) -> None:
    try:
        await ws.send(jsonlib.dumps(frame, ensure_ascii=False))
    except SOCKET_GONE:
        pass  # the widget reconnects and asks for what it missed
