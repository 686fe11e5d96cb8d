"""A loopback channel: JSON in at ``/webhooks/kesher_callback/webhook``, replies POSTed to a URL.

Like Rasa's callback channel, but handoff-aware: every bot, agent and
service message reaches the customer through the configured URL. Tests and
integrations that are not one of the chat apps use it.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import aiohttp
from sanic.request import Request

from connectors.base import MAX_TEXT_CHARS, KesherInputChannel
from connectors.delivery import DeliveryError
from connectors.runtime import ChannelRuntime
from core.errors import InvalidInput, TooLarge
from edge.requests import json_object
from handoff.models import OutboundMessage
from handoff.router import InboundMessage

__all__ = ["CallbackChannel"]


class CallbackChannel(KesherInputChannel):
    """Customer messages as JSON ``{"sender", "message", "message_id"?}``; replies to ``url``."""

    def __init__(self, url: str, rt: Optional[ChannelRuntime] = None) -> None:
        """Keeps the callback URL; opens nothing.

        Args:
            url: Where replies are POSTed (JSON).
            rt: The process runtime (tests pass their own).
        """
        super().__init__(rt)
        self.url = url
        self._http: Optional[aiohttp.ClientSession] = None

    @classmethod
    def name(cls) -> str:
        """The channel's name in ``credentials.yml`` routes and in the outbound stream."""
        return "kesher_callback"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> CallbackChannel:
        """Built by Rasa from ``credentials.yml`` (``url: ${KESHER_CALLBACK_URL}``)."""
        return cls(str((credentials or {}).get("url") or ""))

    async def parse(self, request: Request) -> List[InboundMessage]:
        """Reads ``{"sender": str, "message": str}``; 400 when malformed, 413 when too long."""
        data = json_object(request, '{"sender": ..., "message": ...}')
        sender, text = data.get("sender"), data.get("message")
        if not isinstance(sender, str) or not sender.strip() or len(sender) > 128:
            raise InvalidInput("sender must be a non-empty string of at most 128 characters")
        if not isinstance(text, str):
            raise InvalidInput("message must be a string")
        if len(text) > MAX_TEXT_CHARS:
            raise TooLarge(f"message may have at most {MAX_TEXT_CHARS} characters")
        msg = InboundMessage(cid=sender, channel=self.name(), text=text)
        if isinstance(data.get("message_id"), str) and data["message_id"]:
            msg.message_id = data["message_id"][:128]
            msg.metadata["provider_id"] = True
        return [msg]

    async def address_for(self, message: OutboundMessage) -> str:
        """The callback's caller names conversations itself: the address is the conversation id."""
        return message.cid

    async def send(self, address: str, message: OutboundMessage) -> Optional[str]:
        """POSTs the message to the callback URL."""
        if not self.url:
            raise DeliveryError("no callback URL configured (KESHER_CALLBACK_URL)")
        if self._http is None or self._http.closed:
            self._http = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))
        payload = {
            "recipient_id": address,
            "message_id": message.message_id,
            "kind": message.kind,
            "text": message.text,
            "buttons": [{"title": t, "payload": p} for t, p in message.buttons],
            "image": message.image,
            "author_name": message.author_name,
        }
        try:
            async with self._http.post(self.url, json=payload) as resp:
                if resp.status >= 300:
                    raise DeliveryError(f"callback answered {resp.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(str(exc) or type(exc).__name__) from exc
        return None

    async def close(self) -> None:
        """Closes the HTTP session."""
        if self._http is not None:
            await self._http.close()
