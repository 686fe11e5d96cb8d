"""The one base every Kesher channel shares: webhook, validation, identity, routing, delivery.

A channel subclasses :class:`KesherInputChannel` and writes only what is its
own: how to read and check a webhook (:meth:`~KesherInputChannel.parse`), how
to send one message to an address (:meth:`~KesherInputChannel.send`) and, if
it has them, extra routes. The base gives it:

- the webhook and health routes, with every refusal a 4xx and a reason;
- the duplicate check on provider message ids (a Redis key per id: being processed, done, or
  failed so many times), so a provider's retry after a failure is processed, exactly once;
- after the bot failed on one message :attr:`~core.settings.Settings.bot_attempts` times, or
  when the provider did not retry it within ``bot_retry_grace_seconds``, a person takes the
  conversation with the message (``handoff.desk.Desk.bot_failed``);
- per-sender (and, where the caller is the customer's own client, per-source) message limits;
- the customer's conversation from their address (:class:`handoff.identity.IdentityBook`);
- numbered options for channels without buttons, and the number's payload back;
- an acknowledgement of images and voice notes, which the bot cannot read;
- the handoff-aware routing (:class:`handoff.router.HandoffRouter`);
- the outbound stream, which the delivery worker reads, for the bot's replies.
"""

from __future__ import annotations

import asyncio
import json as jsonlib
import logging
import re
import time
import uuid
from abc import abstractmethod
from concurrent.futures import Future
from dataclasses import replace
from typing import Any, Awaitable, Callable, ClassVar, Dict, List, Optional, Tuple

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from rasa.core.lock_store import LockError
from redis.exceptions import RedisError
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json

from bot.metrics import HANDOFFS_STARTED
from connectors.delivery import Undeliverable
from connectors.metrics import TURN_SECONDS, read_channel_gauges
from connectors.runtime import ChannelRuntime
from core.errors import Conflict, Failed, InvalidInput, KesherError, TooLarge, TooManyRequests, Unavailable
from core.language import detect_language, is_hebrew
from core.tasks import cancel_and_wait
from edge.errors import error_response, status_of
from edge.limits import Check, Limit, RateLimiter, client_address
from edge.metrics import MetricsBlueprint
from edge.requests import json_object
from handoff.models import ConversationState, OutboundMessage
from handoff.router import InboundMessage, RouteResult

__all__ = ["MAX_TEXT_CHARS", "SENDER", "BotFailure", "KesherInputChannel", "StreamOutput", "media_kind",
           "sender_and_text"]

log = logging.getLogger(__name__)

SEEN_TTL_SECONDS = 24 * 3600
DEDUP_TTL_SECONDS = 30 * 24 * 3600  # a provider's replay of a message id is ignored this long
OPTIONS_TTL_SECONDS = 24 * 3600
MAX_TEXT_CHARS = 10_000
# What a caller may call itself on the callback and REST channels (its conversation is <channel>:<sender>).
SENDER = re.compile(r"[A-Za-z0-9._:@+-]{1,128}")
_OPTION_NUMBER = re.compile(r"^\s*(\d{1,2})\s*[.)]?\s*$")

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]

# The state of a provider message id (sec-deliv): "processing:<n>" while one request handles it
# (expires, so a crash frees it), "failed:<n>" after the bot failed on it n times, "done" once
# handled. Taking it is atomic: one request at a time processes a message, and never one that is done.
_TAKE = """
local v = redis.call('GET', KEYS[1])
if (not v) or string.sub(v, 1, 7) == 'failed:' then
  local n = v and string.sub(v, 8) or '0'
  redis.call('SET', KEYS[1], 'processing:' .. n, 'EX', ARGV[1])
  return 'take:' .. n
end
return v
"""
DONE = "done"


class BotFailure(Failed):
    """Rasa raised while handling a message the channel had accepted."""


def media_kind(content_type: str) -> str:
    """``image``, ``audio``, ``video`` or ``file`` for a MIME type."""
    major = content_type.split("/", 1)[0].lower()
    return major if major in ("image", "audio", "video") else "file"


def sender_and_text(request: Request) -> Tuple[Dict[str, Any], str, str]:
    """Reads the callback and REST channels' body, ``{"sender": str, "message": str, ...}``.

    Returns:
        The whole body, the sender and the text.

    Raises:
        InvalidInput: Not such an object, or a sender outside :data:`SENDER`.
        TooLarge: A text over :data:`MAX_TEXT_CHARS`.
    """
    data = json_object(request, '{"sender": ..., "message": ...}')
    sender, text = data.get("sender"), data.get("message")
    if not isinstance(sender, str) or not SENDER.fullmatch(sender):
        raise InvalidInput("sender must be 1 to 128 of the characters A-Z a-z 0-9 . _ : @ + -")
    if not isinstance(text, str):
        raise InvalidInput("message must be a string")
    if len(text) > MAX_TEXT_CHARS:
        raise TooLarge(f"message may have at most {MAX_TEXT_CHARS} characters")
    return data, sender, text


class StreamOutput(OutputChannel):
    """Rasa's replies for one customer, put on the outbound stream for their channel."""

    def __init__(self, channel: str, rt: ChannelRuntime) -> None:
        """Keeps the channel name and the runtime (Redis)."""
        self.channel = channel
        self.rt = rt

    @classmethod
    def name(cls) -> str:
        """Rasa's name for this output (the real channel is ``self.channel``)."""
        return "kesher_stream"

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        """Queues one bot message: text, buttons or quick replies, an image, an attachment link."""
        text = message.get("text") or ""
        if message.get("attachment"):
            text = f"{text}\n{message['attachment']}".strip()
        buttons = message.get("buttons") or message.get("quick_replies") or []
        image = str(message.get("image") or "")
        if not text and not buttons and not image:
            return
        out = OutboundMessage(
            message_id=uuid.uuid4().hex,
            cid=recipient_id,
            channel=self.channel,
            text=text,
            buttons=tuple((str(b.get("title", "")), str(b.get("payload", ""))) for b in buttons),
            kind="bot",
            image=image,
        )
        await self.rt.queue_outbound(out)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Used by Rasa for plain texts."""
        await self.send_response(recipient_id, {"text": text})


class KesherInputChannel(InputChannel):
    """Base of the web, WhatsApp, Telegram and callback channels (see the module docstring)."""

    supports_buttons: ClassVar[bool] = True
    """False: buttons are sent as numbered options and a number in reply picks one."""

    def __init__(self, rt: Optional[ChannelRuntime] = None) -> None:
        """Opens nothing; connections start with the server.

        Args:
            rt: The process's channel runtime (tests pass their own; else the app's, at start).
        """
        self._rt = rt
        self._unretried: Optional[asyncio.Task[None]] = None  # hands over messages the provider never retried

    @property
    def rt(self) -> ChannelRuntime:
        """The process's channel runtime (set when the server starts)."""
        if self._rt is None:
            raise RuntimeError(f"the {self.name()} channel is not started")
        return self._rt

    # -- what a channel writes ---------------------------------------------------
    @abstractmethod
    async def parse(self, request: Request) -> List[InboundMessage]:
        """Checks a webhook and turns it into messages (``address`` set, ``cid`` left empty).

        Raises:
            core.errors.KesherError: Forged (NotAllowed, 403), malformed (InvalidInput, 400)
                or oversized (TooLarge, 413) input.
        """

    @abstractmethod
    async def send(self, address: str, message: OutboundMessage) -> Optional[str]:
        """Sends one message to the customer at ``address``.

        Returns:
            The provider's id for the sent message, if it gives one.

        Raises:
            connectors.delivery.DeliveryError: Not sent now; the worker retries.
            connectors.delivery.Undeliverable: Can never be sent (e.g. the customer blocked the bot).
        """

    def add_routes(self, bp: Blueprint, on_new_message: OnNewMessage) -> None:
        """Adds the channel's own routes (status callbacks, widget files, websocket)."""

    async def start(self) -> None:
        """Opens the channel's clients; runs in ``before_server_start``."""

    async def close(self) -> None:
        """Releases the channel's clients (HTTP sessions)."""

    def acknowledge(self, results: List[RouteResult]) -> HTTPResponse:
        """The answer to the provider once the messages are routed (channels may override)."""
        return json({"status": "accepted", "routed": [("bot" if r.to_bot else r.state.value) for r in results]})

    async def before_routing(self, msg: InboundMessage) -> None:
        """Runs for each new message once its conversation is known (the widget's history uses it)."""

    async def on_signal(self, signal: Dict[str, Any]) -> None:
        """A push for connected customers (``customer-signals``); the web widget uses it."""

    # -- inbound -------------------------------------------------------------------
    async def take(self, message_id: str) -> Optional[int]:
        """Takes a provider message id for processing.

        Returns:
            How many times the bot already failed on it (0 the first time), or None for a
            message that is done (a provider's retry of a handled message: answered, not processed).

        Raises:
            Conflict: Another request is processing it now (the provider retries later).
        """
        state = str(await self.rt.redis.eval(_TAKE, 1, self.rt.keys.seen(self.name(), message_id),
                                             self.rt.settings.inbound_processing_seconds))
        if state.startswith("take:"):
            return int(state[5:] or 0)
        if state.startswith("processing:"):
            raise Conflict("this message is being processed; retry later")
        return None

    async def finish(self, message_id: str) -> None:
        """Marks a provider message id as handled: the provider's retries of it are answered, not processed."""
        keys = self.rt.keys
        async with self.rt.redis.pipeline(transaction=True) as pipe:
            pipe.set(keys.seen(self.name(), message_id), DONE, ex=DEDUP_TTL_SECONDS)
            pipe.zrem(keys.bot_failures_due(self.name()), message_id)
            pipe.delete(keys.bot_failure(self.name(), message_id))
            await pipe.execute()

    async def remember_failure(self, msg: InboundMessage) -> None:
        """Keeps a message the bot failed on, so a person gets it if the provider never retries it."""
        keys, name = self.rt.keys, self.name()
        due = time.time() + self.rt.settings.bot_retry_grace_seconds
        async with self.rt.redis.pipeline(transaction=True) as pipe:
            pipe.hset(keys.bot_failure(name, msg.message_id), mapping={"cid": msg.cid, "text": msg.text})
            pipe.expire(keys.bot_failure(name, msg.message_id), SEEN_TTL_SECONDS)
            pipe.zadd(keys.bot_failures_due(name), {msg.message_id: due})
            await pipe.execute()

    async def hand_over_unretried(self) -> int:
        """Hands to a person each message the bot failed on that its provider did not retry in time.

        Returns:
            How many messages were handed over.
        """
        redis, keys, name = self.rt.redis, self.rt.keys, self.name()
        handed = 0
        for message_id in await redis.zrangebyscore(keys.bot_failures_due(name), 0, time.time(), start=0, num=50):
            if not await redis.zrem(keys.bot_failures_due(name), message_id):
                continue  # another process took it
            facts = await redis.hgetall(keys.bot_failure(name, message_id))
            try:
                failures = await self.take(message_id)
            except Conflict:
                continue  # the provider's retry is being processed right now
            if failures is None:
                continue  # handled meanwhile
            if not facts:  # its record expired: nothing to hand over
                await self.release(message_id, failures)
                continue
            msg = InboundMessage(cid=facts["cid"], channel=name, text=facts["text"], message_id=message_id)
            try:
                await self._to_person(msg, failures)
            except BaseException:
                await self.release(message_id, failures)
                await redis.zadd(keys.bot_failures_due(name), {message_id: time.time() + 1})
                raise
            await self.finish(message_id)
            handed += 1
        return handed

    async def _hand_over_unretried_always(self) -> None:
        """Runs :meth:`hand_over_unretried` every little while, while the server runs."""
        every = min(5.0, self.rt.settings.bot_retry_grace_seconds / 3)
        while True:
            try:
                await self.hand_over_unretried()
            except (RedisError, KesherError) as exc:
                log.warning("channel=%s: messages the bot failed on not handed over yet: %s", self.name(), exc)
            await asyncio.sleep(every)

    async def release(self, message_id: str, failures: int) -> None:
        """Lets the provider's retry of a message through, keeping the bot's failures on it so far."""
        key = self.rt.keys.seen(self.name(), message_id)
        if failures:
            await self.rt.redis.set(key, f"failed:{failures}", ex=SEEN_TTL_SECONDS)
        else:
            await self.rt.redis.delete(key)

    async def receive(self, msg: InboundMessage, on_new_message: OnNewMessage) -> Optional[RouteResult]:
        """Everything between a parsed message and the bot or the agent.

        Messages from one address are received one at a time in the order they arrived, whichever
        replica each reached: once its provider id is taken (a provider's retry of a message being
        processed is refused at once), each takes a ticket in Redis (``ChannelRuntime.arrivals``)
        and waits for the earlier ones to be routed and answered.

        Returns:
            Where the message went, or None for a duplicate.

        Raises:
            Conflict: The same message is being processed by another request now.
            BotFailure: The bot failed on it, fewer than ``bot_attempts`` times so far (the
                provider's retry is processed).
            Unavailable: An earlier message from the address held its turn too long (retry later).
        """
        provider_id = bool(msg.metadata.get("provider_id"))
        failures = 0
        if provider_id:
            taken = await self.take(msg.message_id)
            if taken is None:
                log.info("channel=%s message=%s duplicate ignored", self.name(), msg.message_id)
                return None
            failures = taken
        turn = False  # from its turn on, _receive releases or finishes the provider id itself
        try:
            arrival = self.rt.arrivals.lock(f"{self.name()}:{msg.address or msg.cid}",
                                            lock_lifetime=self.rt.settings.inbound_processing_seconds)
            async with arrival:
                turn = True
                return await self._receive(msg, on_new_message, provider_id, failures)
        except BaseException as exc:
            if provider_id and not turn:  # not processed: let the provider's retry through
                await self.release(msg.message_id, failures)
            if isinstance(exc, LockError):
                raise Unavailable("an earlier message of this conversation is still being handled; "
                                  "retry later") from exc
            raise

    async def _receive(self, msg: InboundMessage, on_new_message: OnNewMessage, provider_id: bool,
                       failures: int) -> Optional[RouteResult]:
        """:meth:`receive` in the message's turn, its provider id (if any) taken."""
        encoding = None
        if msg.text.strip() and not msg.text.startswith("/"):
            encoding = self.rt.prefetch(msg.text)  # the NLU's sentence vector, on a worker thread meanwhile
        try:
            if msg.address:
                msg.cid = await self.rt.identity.resolve(self.name(), msg.address)
            if not self.supports_buttons:
                await self._pick_option(msg)
            if not failures:  # a retry was seen already (the widget's history has it)
                await self.before_routing(msg)
            result = await self.rt.router.route(msg)
            if msg.media and result.state in (ConversationState.BOT, ConversationState.QUEUED):
                await self._acknowledge_media(msg, result)
            log.info("channel=%s cid=%s message=%s routed=%s", self.name(), msg.cid, msg.message_id,
                     "bot" if result.to_bot else result.state.value)
            # A photo without a caption was acknowledged above; an empty text still gets the bot's polite answer.
            if result.to_bot and (msg.text.strip() or not msg.media):
                try:
                    await self._to_bot(msg, on_new_message, encoding)
                except BotFailure:
                    failures += 1
                    if not provider_id:
                        raise  # no id to count retries by: the sender sees the failure and may send again
                    if failures < self.rt.settings.bot_attempts:
                        await self.remember_failure(msg)  # the provider retries it; else a person gets it
                        raise
                    result = await self._to_person(msg, failures)
        except BaseException:
            if provider_id:  # not processed: let the provider's retry through
                await self.release(msg.message_id, failures)
            raise
        if provider_id:
            await self.finish(msg.message_id)
        return result

    async def _to_person(self, msg: InboundMessage, failures: int) -> RouteResult:
        """The bot failed on the message too often: a person takes the conversation, with the message."""
        language = detect_language(msg.text, await self.rt.language_of(msg.cid)) or self.rt.default_language
        log.warning("channel=%s cid=%s message=%s: the bot failed on it %d times; handed to a person",
                    self.name(), msg.cid, msg.message_id, failures)
        ticket = await self.rt.router.desk.bot_failed(msg.cid, self.name(), language, msg.text, msg.message_id)
        HANDOFFS_STARTED.labels(self.name(), "bot_failed").inc()
        return RouteResult(False, ticket.state)

    async def _to_bot(self, msg: InboundMessage, on_new_message: OnNewMessage,
                      encoding: Optional[Future[Any]] = None) -> None:
        """Hands the message to Rasa, whose parse awaits ``encoding`` (the prefetched sentence vector).

        Raises:
            BotFailure: Rasa raised (the caller counts it: retried, then handed to a person).
        """
        user_message = UserMessage(msg.text, StreamOutput(self.name(), self.rt), msg.cid,
                                   input_channel=self.name(), metadata=msg.metadata or None)
        started = time.perf_counter()
        try:
            # Rasa takes the lock and reads the tracker while the vector is computed; its parse awaits it.
            with self.rt.awaited_by_parse(user_message.message_id, encoding):
                await on_new_message(user_message)
            TURN_SECONDS.labels(self.name()).observe(time.perf_counter() - started)
        except Exception as exc:  # any failure inside Rasa: reported as a 500 with a reason, never as 200
            log.exception("channel=%s cid=%s message=%s: the bot failed on it", self.name(), msg.cid,
                          msg.message_id)
            raise BotFailure(f"the assistant could not process this message ({type(exc).__name__})") from exc

    async def _acknowledge_media(self, msg: InboundMessage, result: RouteResult) -> None:
        """The bot cannot read media; the queue's agent will see it. Either way, say so."""
        language = "he" if is_hebrew(msg.text) else await self.rt.language_of(msg.cid)
        kind = self.rt.texts.text(f"media_{media_kind(msg.media[0].get('content_type', ''))}", language)
        name = "media_received" if result.to_bot else "media_to_agent"
        await self.rt.queue_outbound(OutboundMessage(
            message_id=uuid.uuid4().hex, cid=msg.cid, channel=self.name(),
            text=self.rt.texts.text(name, language, kind=kind), kind="system",
        ))

    async def _pick_option(self, msg: InboundMessage) -> None:
        """A number in reply to numbered options becomes that option's payload."""
        match = _OPTION_NUMBER.match(msg.text)
        if not match:
            return
        raw = await self.rt.redis.get(self.rt.keys.options(msg.cid))
        options: List[List[str]] = jsonlib.loads(raw) if raw else []
        index = int(match.group(1)) - 1
        if 0 <= index < len(options):
            msg.metadata["option_title"] = options[index][0]
            msg.text = options[index][1]

    # -- outbound --------------------------------------------------------------------
    async def address_for(self, message: OutboundMessage) -> str:
        """The customer's address on this channel for ``message``'s conversation.

        Raises:
            connectors.delivery.Undeliverable: The customer has no address on this channel.
        """
        address = await self.rt.identity.address(message.cid, self.name())
        if not address:
            raise Undeliverable(f"{message.cid} has no address on {self.name()}")
        return address

    async def deliver(self, message: OutboundMessage) -> None:
        """Sends ``message`` to its customer (buttons numbered where the channel has none).

        Raises:
            connectors.delivery.DeliveryError: Not sent now; the worker retries.
        """
        address = await self.address_for(message)
        if not self.supports_buttons:
            message = await self.number_options(message)
        provider_id = await self.send(address, message)
        if provider_id:
            await self.rt.redis.hset(
                self.rt.keys.provider_message(self.name(), provider_id),
                mapping={"message_id": message.message_id, "cid": message.cid},
            )
            await self.rt.redis.expire(self.rt.keys.provider_message(self.name(), provider_id),
                                              SEEN_TTL_SECONDS * 7)

    async def number_options(self, message: OutboundMessage) -> OutboundMessage:
        """``message`` with its buttons as numbered lines, which are kept so a number in reply picks one.

        A message without buttons forgets the conversation's options (a number in reply is a number again).
        """
        key = self.rt.keys.options(message.cid)
        if not message.buttons:
            # A message without options: a number in reply is just a number again.
            await self.rt.redis.delete(key)
            return message
        await self.rt.redis.set(key, jsonlib.dumps([list(b) for b in message.buttons], ensure_ascii=False),
                                       ex=OPTIONS_TTL_SECONDS)
        titles = [title for title, _ in message.buttons]
        if message.text and titles == [str(i) for i in range(1, len(titles) + 1)]:
            # The options are their own numbers ("from 1 to 5"): the text says it, a list "1. 1" would not.
            return replace(message, buttons=())
        language = "he" if is_hebrew(message.text) else "en"
        choose = self.rt.texts.text("choose_option", language)
        lines = [message.text, "", choose] if message.text else [choose]
        lines += [f"{i}. {title}" for i, title in enumerate(titles, start=1)]
        return replace(message, text="\n".join(lines).strip(), buttons=())

    async def record_status(self, provider_id: str, status: str) -> bool:
        """Records a provider's delivery status for a message it accepted; False if unknown."""
        sent = await self.rt.redis.hgetall(self.rt.keys.provider_message(self.name(), provider_id))
        if not sent:
            return False
        key = self.rt.keys.delivery_status(sent["cid"])
        await self.rt.redis.hset(key, sent["message_id"], status)
        await self.rt.redis.expire(key, SEEN_TTL_SECONDS * 7)
        if status in ("failed", "undelivered"):
            log.warning("channel=%s cid=%s message=%s provider status %s", self.name(), sent["cid"],
                        sent["message_id"], status)
        return True

    # -- abuse limits (sec-chan) -------------------------------------------------------
    limited_by_source: ClassVar[bool] = True
    """True: the caller is the customer's own client (widget, REST, callback): messages are also
    limited per client address, and a message over a limit is refused (429). False: a provider's
    servers (Twilio, Telegram) carry every customer's messages: only the sender is limited, and
    a message over the limit is acknowledged, dropped, and the customer told once to slow down."""

    def cap_body_size(self, app: Any) -> None:
        """Caps every body the app reads at ``KESHER_MAX_BODY_BYTES`` (Sanic answers 413 beyond it).

        In ``rasa run`` that is the channels and Rasa's HTTP API alike. Set on the app, not in
        the environment every part shares: the action server takes whole trackers
        (``actions/server.py`` has its own, larger cap), the console has its own.
        """
        cap = self.rt.settings.max_body_bytes
        if app.config.REQUEST_MAX_SIZE > cap:
            app.config.REQUEST_MAX_SIZE = cap

    def limiter(self) -> RateLimiter:
        """The rate limiter on the runtime's Redis."""
        return RateLimiter(self.rt.redis, self.rt.keys)

    def message_checks(self, source: str, address: str) -> List[Check]:
        """The counters one message from ``address`` (sent from ``source``) adds to."""
        settings = self.rt.settings
        checks = [Check(f"message:{self.name()}", address, Limit.parse(settings.limit_messages_per_sender),
                        "messages from this sender")]
        if self.limited_by_source and source:
            checks.append(Check("message:source", source, Limit.parse(settings.limit_messages_per_source),
                                "messages from this address"))
        return checks

    async def within_limits(self, source: str, msg: InboundMessage) -> bool:
        """Counts a message against its limits.

        Args:
            source: The client's address (ignored where :attr:`limited_by_source` is False).
            msg: The parsed message (``address`` set).

        Returns:
            False for a message a provider channel drops (the customer is told once per window).

        Raises:
            TooManyRequests: Over a limit on a channel whose caller is the customer's client.
        """
        try:
            await self.limiter().hit(self.message_checks(source, msg.address or msg.cid))
        except TooManyRequests as exc:
            if self.limited_by_source:
                raise
            log.info("channel=%s message=%s dropped: %s", self.name(), msg.message_id, exc)
            notice = self.rt.keys.rate(f"notice:{self.name()}", msg.address)
            if await self.rt.redis.set(notice, "1", nx=True, ex=exc.retry_after):
                cid = await self.rt.identity.resolve(self.name(), msg.address)
                language = "he" if is_hebrew(msg.text) else await self.rt.language_of(cid)
                await self.rt.queue_outbound(OutboundMessage(
                    message_id=uuid.uuid4().hex, cid=cid, channel=self.name(), kind="system",
                    text=self.rt.texts.text(exc.text or "limit_slow_down", language)))
            return False
        return True

    # -- routes ----------------------------------------------------------------------
    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The channel's routes: ``GET /`` (health), ``POST /webhook`` and its own (:meth:`add_routes`).

        The Blueprint also gives the app ``GET /metrics``, once per app (:class:`edge.metrics.MetricsBlueprint`).
        """
        channel = self

        async def undelivered() -> Any:
            return await read_channel_gauges(channel.rt.redis, channel.rt.keys)

        bp = MetricsBlueprint(f"kesher_{self.name()}", url_prefix=__name__, gauges=[undelivered])

        @bp.listener("before_server_start")
        async def _start(app: Any, _loop: Any) -> None:
            if channel._rt is None:
                channel._rt = ChannelRuntime.of(app)
            channel.rt.register(channel)
            channel.cap_body_size(app)
            await channel.rt.start()
            await channel.start()
            channel._unretried = asyncio.create_task(channel._hand_over_unretried_always())

        @bp.listener("after_server_stop")
        async def _stop(app: Any, _loop: Any) -> None:
            if channel._unretried is not None:
                await cancel_and_wait(channel._unretried)
            await channel.rt.stop()

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return json({"status": "ok", "channel": channel.name()})

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            return await channel.run_webhook(request, on_new_message)

        self.add_routes(bp, on_new_message)
        return bp

    async def run_webhook(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        """Parses, deduplicates and routes a webhook; refusals and outages get a 4xx/503 with a reason."""
        try:
            messages = [m for m in await self.parse(request)
                        if await self.within_limits(client_address(request), m)]
            results = [r for r in [await self.receive(m, on_new_message) for m in messages] if r is not None]
        except KesherError as exc:
            log.info("channel=%s webhook refused status=%s reason=%s", self.name(), status_of(exc), exc)
            return error_response(exc)
        except RedisError as exc:
            # Not processed and not marked as seen: the provider's retry will be.
            log.error("channel=%s webhook failed: redis unavailable: %s", self.name(), exc)
            return error_response(Unavailable("temporarily unavailable, please retry"))
        return self.acknowledge(results)
