"""A loopback channel: JSON in at ``/webhooks/kesher_callback/webhook``, replies POSTed to a URL.

Like Rasa's callback channel, but handoff-aware: every bot, agent and
service message reaches the customer through the configured URL. Tests and
integrations that are not one of the chat apps use it.

It is off unless both ``KESHER_CALLBACK_URL`` and ``KESHER_CALLBACK_SECRET`` are
set: then its webhook answers 404 and says so. When on, every request must
carry the secret in ``X-Kesher-Callback-Secret`` (compared in constant time;
else 403), and every reply POSTed to the URL carries it too, so the receiver
can tell it comes from Kesher. The ``sender`` is the customer's address on
this channel, never a conversation id: it goes through the identity book like
a WhatsApp number, so ``{"sender": "whatsapp:+9725..."}`` writes into the
conversation ``kesher_callback:whatsapp:+9725...``, not the WhatsApp customer's.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional

import aiohttp
from sanic.request import Request

from connectors.base import SENDER, KesherInputChannel, sender_and_text
from connectors.delivery import DeliveryError, Undeliverable
from connectors.runtime import ChannelRuntime
from core import channels
from core.errors import NotAllowed, NotFound
from edge.requests import same_secret
from handoff.models import OutboundMessage
from handoff.router import InboundMessage

__all__ = ["SECRET_HEADER", "SENDER", "CallbackChannel"]

SECRET_HEADER = "X-Kesher-Callback-Secret"
"""What a sender may be: an integration's own id for its customer (ASCII, at most 128 characters)."""


class CallbackChannel(KesherInputChannel):
    """Customer messages as JSON ``{"sender", "message", "message_id"?}``; replies to ``url``."""

    def __init__(self, url: str, secret: str = "", rt: Optional[ChannelRuntime] = None) -> None:
        """Keeps the callback URL and the shared secret; opens nothing.

        Args:
            url: Where replies are POSTed (JSON); empty: the channel is off.
            secret: What callers send in ``X-Kesher-Callback-Secret``; empty: the channel is off.
            rt: The process runtime (tests pass their own).
        """
        super().__init__(rt)
        self.url = url
        self.secret = secret
        self._http: Optional[aiohttp.ClientSession] = None

    @classmethod
    def name(cls) -> str:
        """The channel's name in ``credentials.yml`` routes and in the outbound stream."""
        return channels.CALLBACK

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> CallbackChannel:
        """Built by Rasa from ``credentials.yml`` (``url`` and ``secret`` from the environment)."""
        credentials = credentials or {}
        return cls(str(credentials.get("url") or ""), str(credentials.get("secret") or ""))

    @property
    def enabled(self) -> bool:
        """True when both a URL and a secret are configured."""
        return bool(self.url and self.secret)

    def check_secret(self, request: Request) -> None:
        """Refuses requests while the channel is off or without the shared secret.

        Raises:
            NotFound: The channel is off (no URL or no secret configured).
            NotAllowed: The secret is missing or wrong.
        """
        if not self.enabled:
            raise NotFound("the loopback channel is off: it needs KESHER_CALLBACK_URL and KESHER_CALLBACK_SECRET")
        given = request.headers.get(SECRET_HEADER.lower(), "")
        if not same_secret(given, self.secret):
            raise NotAllowed(f"{SECRET_HEADER} is missing or wrong")

    async def parse(self, request: Request) -> List[InboundMessage]:
        """Reads ``{"sender": str, "message": str}``.

        Raises:
            core.errors.KesherError: Off (404), no secret (403), malformed (400), too long (413).
        """
        self.check_secret(request)
        data, sender, text = sender_and_text(request)
        msg = InboundMessage(cid="", channel=self.name(), text=text, address=sender)
        message_id = data.get("message_id")
        if isinstance(message_id, str) and message_id:
            msg.message_id = message_id[:128]
            msg.metadata["provider_id"] = True
        return [msg]

    async def send(self, address: str, message: OutboundMessage) -> Optional[str]:
        """POSTs the message to the callback URL, with the shared secret in its header.

        Raises:
            Undeliverable: The channel is off.
            DeliveryError: The URL failed or could not be reached (the worker retries).
        """
        if not self.enabled:
            raise Undeliverable("the loopback channel is off (KESHER_CALLBACK_URL, KESHER_CALLBACK_SECRET)")
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
            async with self._http.post(self.url, json=payload, headers={SECRET_HEADER: self.secret}) as resp:
                if resp.status >= 300:
                    raise DeliveryError(f"callback answered {resp.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise DeliveryError(str(exc) or type(exc).__name__) from exc
        return None

    async def close(self) -> None:
        """Closes the HTTP session."""
        if self._http is not None:
            await self._http.close()
