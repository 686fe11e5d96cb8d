"""The one base every Kesher channel shares: webhook, validation, routing, delivery.

A channel subclasses :class:`KesherInputChannel` and writes only what is its
own: how to read and check a webhook (:meth:`parse`) and how to send a message
(:meth:`deliver`). The base gives it the webhook and health routes, the
duplicate check on provider message ids, the handoff-aware routing
(:class:`handoff.router.HandoffRouter`) and the outbound stream, which the
delivery worker reads.
"""

from __future__ import annotations

import logging
import uuid
from abc import abstractmethod
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint
from sanic.request import Request
from sanic.response import HTTPResponse, json

from connectors.runtime import Runtime, runtime
from handoff.errors import HandoffError
from handoff.models import OutboundMessage
from handoff.router import InboundMessage, RouteResult

__all__ = ["KesherInputChannel", "StreamOutput"]

log = logging.getLogger(__name__)

SEEN_TTL_SECONDS = 24 * 3600
MAX_TEXT_CHARS = 10_000


class StreamOutput(OutputChannel):
    """Rasa's replies for one customer, put on the outbound stream for their channel."""

    def __init__(self, channel: str, rt: Runtime) -> None:
        """Keeps the channel name and the runtime (Redis)."""
        self.channel = channel
        self.rt = rt

    @classmethod
    def name(cls) -> str:
        """Rasa's name for this output (the real channel is ``self.channel``)."""
        return "kesher_stream"

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        """Queues one bot message: text, buttons or quick replies, an image as a link."""
        text = message.get("text") or ""
        if message.get("image"):
            text = f"{text}\n{message['image']}".strip()
        if message.get("attachment"):
            text = f"{text}\n{message['attachment']}".strip()
        buttons = message.get("buttons") or message.get("quick_replies") or []
        if not text and not buttons:
            return
        assert self.rt.store is not None
        out = OutboundMessage(
            message_id=uuid.uuid4().hex,
            cid=recipient_id,
            channel=self.channel,
            text=text,
            buttons=tuple((str(b.get("title", "")), str(b.get("payload", ""))) for b in buttons),
            kind="bot",
        )
        await self.rt.redis.xadd(self.rt.store.keys.outbound(), out.to_redis(),  # type: ignore[union-attr]
                                 maxlen=20_000, approximate=True)

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        """Used by Rasa for plain texts."""
        await self.send_response(recipient_id, {"text": text})


class KesherInputChannel(InputChannel):
    """Base of the web, WhatsApp, Telegram and callback channels (see the module docstring)."""

    def __init__(self, rt: Optional[Runtime] = None) -> None:
        """Opens nothing; connections start with the server.

        Args:
            rt: The process runtime (tests pass their own).
        """
        self.rt = rt or runtime

    @abstractmethod
    async def parse(self, request: Request) -> List[InboundMessage]:
        """Checks a webhook and turns it into messages.

        Raises:
            handoff.errors.HandoffError: Forged (Forbidden, 403), malformed (BadRequest, 400)
                or oversized (PayloadTooLarge, 413) input.
        """

    @abstractmethod
    async def deliver(self, message: OutboundMessage) -> None:
        """Sends one message to the customer.

        Raises:
            connectors.delivery.DeliveryError: Not sent now; the worker retries.
        """

    async def close(self) -> None:
        """Releases the channel's clients (HTTP sessions)."""

    def acknowledge(self, results: List[RouteResult]) -> HTTPResponse:
        """The answer to the provider once the messages are routed (channels may override)."""
        return json({"status": "accepted", "routed": [("bot" if r.to_bot else r.state.value) for r in results]})

    async def first_time(self, channel: str, message_id: str) -> bool:
        """True the first time a provider message id is seen (``SET NX EX``)."""
        assert self.rt.redis is not None and self.rt.store is not None
        key = self.rt.store.keys.seen(channel, message_id)
        return bool(await self.rt.redis.set(key, "1", nx=True, ex=SEEN_TTL_SECONDS))

    async def handle(
        self, msg: InboundMessage, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> RouteResult:
        """Routes one message: to Rasa in state ``bot``, otherwise to the agent side."""
        assert self.rt.router is not None
        result = await self.rt.router.route(msg)
        if result.to_bot:
            await on_new_message(
                UserMessage(
                    msg.text,
                    StreamOutput(self.name(), self.rt),
                    msg.cid,
                    input_channel=self.name(),
                    metadata=msg.metadata or None,
                )
            )
        return result

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        """The channel's routes: ``GET /`` (health) and ``POST /webhook``."""
        bp = Blueprint(f"kesher_{self.name()}", __name__)
        channel = self

        @bp.listener("before_server_start")
        async def _start(app: Any, _loop: Any) -> None:
            channel.rt.register(channel)
            await channel.rt.start()

        @bp.listener("after_server_stop")
        async def _stop(app: Any, _loop: Any) -> None:
            await channel.rt.stop()

        @bp.route("/", methods=["GET"])
        async def health(request: Request) -> HTTPResponse:
            return json({"status": "ok", "channel": channel.name()})

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            try:
                messages = await channel.parse(request)
            except HandoffError as exc:
                log.info("%s: refused a webhook (%s): %s", channel.name(), exc.status_code, exc)
                return json({"error": str(exc), "status": exc.status_code}, status=exc.status_code)
            results: List[RouteResult] = []
            for msg in messages:
                if msg.metadata.get("provider_id") and not await channel.first_time(channel.name(), msg.message_id):
                    log.info("%s: duplicate message %s ignored", channel.name(), msg.message_id)
                    continue
                results.append(await channel.handle(msg, on_new_message))
            return channel.acknowledge(results)

        return bp
