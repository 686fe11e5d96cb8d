"""The REST channel for scripts and benchmarks: Rasa's REST shape, a token, and a namespace.

``POST /webhooks/kesher_rest/webhook`` with ``Authorization: Bearer <KESHER_REST_TOKEN>``
and ``{"sender": str, "message": str}`` answers with the bot's messages, as Rasa's
stock REST channel does: ``[{"recipient_id", "text", "buttons"?, ...}]``. It
replaces that channel, which took any ``sender`` as the conversation id, so
anyone could read a verified customer's conversation. Here the sender is the
caller's own address on this channel: it goes through the identity book, so
the conversation is ``kesher_rest:<sender>`` and can never be a WhatsApp,
Telegram or web customer's. Without the token (or with the token setting empty)
the channel answers 401, 403 or 404 and says why. Like every channel it refuses
non-object bodies (400), texts over ``MAX_TEXT_CHARS`` (413) and too many
messages (429). It is not a live-chat channel: a request for a person is
recorded and the caller told where to chat.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa.core.channels.channel import CollectingOutputChannel, UserMessage
from redis.exceptions import RedisError
from sanic.request import Request
from sanic.response import HTTPResponse, json

from connectors.base import KesherInputChannel, OnNewMessage, sender_and_text
from connectors.delivery import Undeliverable
from connectors.runtime import ChannelRuntime
from core import channels
from core.errors import KesherError, NotAllowed, NotAuthenticated, NotFound, Unavailable
from edge.errors import error_response
from edge.limits import client_address
from edge.requests import same_secret
from handoff.models import OutboundMessage
from handoff.router import InboundMessage

__all__ = ["KesherRestChannel"]


class KesherRestChannel(KesherInputChannel):
    """Token-protected, namespaced REST channel (see the module docstring)."""

    def __init__(self, token: str, rt: Optional[ChannelRuntime] = None) -> None:
        """Keeps the token; opens nothing.

        Args:
            token: What callers send as ``Authorization: Bearer <token>``; empty: the channel is off.
            rt: The process runtime (tests pass their own).
        """
        super().__init__(rt)
        self.token = token

    @classmethod
    def name(cls) -> str:
        """The channel's name in routes, conversation ids and trackers."""
        return channels.REST

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> KesherRestChannel:
        """Built by Rasa from ``credentials.yml`` (``token: ${KESHER_REST_TOKEN}``)."""
        return cls(str((credentials or {}).get("token") or ""))

    def check_token(self, request: Request) -> None:
        """Refuses callers without the token.

        Raises:
            NotFound: The channel is off (no token configured).
            NotAuthenticated: No ``Authorization: Bearer`` header.
            NotAllowed: A wrong token.
        """
        if not self.token:
            raise NotFound("the REST channel is off: it needs KESHER_REST_TOKEN")
        scheme, _, given = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            raise NotAuthenticated("send Authorization: Bearer <KESHER_REST_TOKEN>")
        if not same_secret(given.strip(), self.token):
            raise NotAllowed("the bearer token is wrong")

    async def parse(self, request: Request) -> List[InboundMessage]:
        """Reads ``{"sender": str, "message": str}`` from a caller with the token."""
        self.check_token(request)
        _, sender, text = sender_and_text(request)
        return [InboundMessage(cid="", channel=self.name(), text=text, address=sender)]

    async def run_webhook(self, request: Request, on_new_message: OnNewMessage) -> HTTPResponse:
        """Runs the turn and answers with the bot's messages, as Rasa's REST channel does."""
        collected = CollectingOutputChannel()

        async def collect(message: UserMessage) -> None:
            message.output_channel = collected
            await on_new_message(message)

        try:
            [msg] = await self.parse(request)
            await self.within_limits(client_address(request), msg)
            await self.receive(msg, collect)
        except KesherError as exc:
            return error_response(exc)
        except RedisError:
            return error_response(Unavailable("temporarily unavailable, please retry"))
        # The caller knows its conversation by the sender it gave.
        return json([{**m, "recipient_id": msg.address} for m in collected.messages])

    async def send(self, address: str, message: OutboundMessage) -> Optional[str]:
        """Nothing reaches a REST caller outside its HTTP answers.

        Raises:
            Undeliverable: Always.
        """
        raise Undeliverable("the REST channel answers only in its HTTP responses")
