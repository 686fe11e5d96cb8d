"""Telegram through python-telegram-bot: webhook updates in, the Bot API out.

Telegram POSTs each update to ``/webhooks/telegram/webhook`` with the secret
given at registration in ``X-Telegram-Bot-Api-Secret-Token`` (else 403).
Updates are read with ``Update.de_json``; buttons are inline keyboards whose
presses come back as callback queries. Replies go out through PTB's ``Bot``
(httpx, async). Registering the webhook is a command (``python -m kesher
telegram-webhook``), never something done while objects are built.

Every update that is not what the Bot API sends (a message that is not an
object or has no chat, callback data that is not text, a date no clock can
hold) is refused with 400 and the reason, before PTB reads it.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from typing import Any, Dict, List, Optional, Set

from sanic.request import Request
from telegram import Bot, InlineKeyboardButton, InlineKeyboardMarkup, Update
from telegram.constants import ParseMode
from telegram.error import BadRequest as TelegramBadRequest
from telegram.error import Forbidden as TelegramForbidden
from telegram.error import TelegramError
from telegram.request import HTTPXRequest

from connectors.base import MAX_TEXT_CHARS, KesherInputChannel
from connectors.bidi_text import for_phone
from connectors.delivery import DeliveryError, Undeliverable
from connectors.runtime import ChannelRuntime
from connectors.text import split_text
from core import channels
from core.errors import InvalidInput, NotAllowed, TooLarge
from core.markup import to_telegram_html
from edge.requests import json_object, same_secret
from handoff.models import OutboundMessage
from handoff.router import InboundMessage

__all__ = ["TelegramChannel"]

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 256 * 1024
MAX_MESSAGE_CHARS = 4096  # the Bot API's limit for one message
MAX_CALLBACK_BYTES = 64  # the Bot API's limit for callback_data
PAYLOAD_TTL_SECONDS = 7 * 24 * 3600
START_PAYLOAD = "/greet"
_MEDIA_TYPES = {"photo": "image/jpeg", "voice": "audio/ogg", "audio": "audio/mpeg", "video": "video/mp4",
                "video_note": "video/mp4", "document": "application/octet-stream", "sticker": "image/webp"}


# Update fields that carry a Message, and the Message fields that carry one in turn.
_MESSAGE_FIELDS = ("message", "edited_message", "channel_post", "edited_channel_post", "business_message")
_MAX_DATE = 253402300799  # 9999-12-31T23:59:59Z: the latest date datetime can hold


class TelegramChannel(KesherInputChannel):
    """Telegram via python-telegram-bot (see the module docstring)."""

    limited_by_source = False  # every update comes from Telegram's servers: limit per chat only

    def __init__(self, token: str, secret_token: str, api_base: str = "https://api.telegram.org",
                 rt: Optional[ChannelRuntime] = None) -> None:
        """Keeps the bot's settings; the Bot is made when the server starts.

        Args:
            token: The bot's token from BotFather.
            secret_token: What Telegram sends in ``X-Telegram-Bot-Api-Secret-Token``.
            api_base: The Bot API's base URL (tests use a local fake).
            rt: The process runtime (tests pass their own).
        """
        super().__init__(rt)
        if not token or not secret_token:
            raise ValueError("Telegram needs TELEGRAM_TOKEN and TELEGRAM_SECRET_TOKEN")
        self.token = token
        self.secret_token = secret_token
        self.api_base = api_base.rstrip("/")
        self._bot: Optional[Bot] = None
        self._requests: List[HTTPXRequest] = []
        self._background: Set[asyncio.Task[Any]] = set()

    @classmethod
    def name(cls) -> str:
        """The channel's name in routes and in the outbound stream."""
        return channels.TELEGRAM

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> TelegramChannel:
        """Built by Rasa from ``credentials.yml`` (values from the environment)."""
        c = credentials or {}
        return cls(str(c.get("token") or ""), str(c.get("secret_token") or ""),
                   str(c.get("api_base") or "https://api.telegram.org"))

    def make_bot(self, request: Optional[HTTPXRequest] = None) -> Bot:
        """A PTB ``Bot`` for this token and API (no network until it is used)."""
        return Bot(self.token, base_url=f"{self.api_base}/bot", base_file_url=f"{self.api_base}/file/bot",
                   request=request)

    @property
    def bot(self) -> Bot:
        """The started channel's Bot."""
        assert self._bot is not None, "the channel is not started"
        return self._bot

    async def start(self) -> None:
        """Makes the Bot (its HTTP client needs the running loop).

        The Bot is used without ``initialize()``, which would call getMe; its
        HTTP client is ours, so :meth:`close` can close it.
        """
        self._requests = [HTTPXRequest(connection_pool_size=32)]
        self._bot = self.make_bot(self._requests[0])

    async def close(self) -> None:
        """Waits for pending callback answers and closes the Bot's HTTP client."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)
        for request in self._requests:
            await request.shutdown()

    # -- inbound -------------------------------------------------------------------------
    async def parse(self, request: Request) -> List[InboundMessage]:
        """Reads one update: a text, a /start, a button press, or media."""
        given = request.headers.get("x-telegram-bot-api-secret-token", "")
        if not same_secret(given, self.secret_token):
            raise NotAllowed("X-Telegram-Bot-Api-Secret-Token is missing or wrong")
        if len(request.body or b"") > MAX_BODY_BYTES:
            raise TooLarge(f"an update has at most {MAX_BODY_BYTES} bytes")
        data = json_object(request, "a Telegram update")
        if not isinstance(data.get("update_id"), int) or isinstance(data.get("update_id"), bool):
            raise InvalidInput("the update must have an integer update_id")
        _check_shape(data)
        try:
            update = Update.de_json(data, self.bot)
        except (KeyError, TypeError, ValueError, AttributeError, OverflowError, OSError) as exc:
            raise InvalidInput(f"not a Telegram update: {type(exc).__name__}") from exc
        msg = await self._message_of(update)
        if msg is None:
            return []  # edits, joins and other updates the assistant does not answer
        msg.message_id = f"update-{update.update_id}"
        msg.metadata["provider_id"] = True
        return [msg]

    async def _message_of(self, update: Update) -> Optional[InboundMessage]:
        if update.callback_query is not None:
            query = update.callback_query
            chat = query.message.chat if query.message is not None else None
            if chat is None or not query.data:
                return None
            self._in_background(query.answer())  # stops the button's spinner
            payload = await self._payload(query.data)
            msg = InboundMessage(cid="", channel=self.name(), text=payload, address=str(chat.id))
            msg.metadata["option_title"] = _button_title(query.message, query.data)
            return msg
        message = update.message
        if message is None:
            return None
        text = message.text or message.caption or ""
        if len(text) > MAX_TEXT_CHARS:
            raise TooLarge(f"a message may have at most {MAX_TEXT_CHARS} characters")
        if text.split(" ", 1)[0].split("@", 1)[0] == "/start":
            text = START_PAYLOAD
        media = [{"url": "", "content_type": mime, "telegram_kind": kind}
                 for kind, mime in _MEDIA_TYPES.items() if getattr(message, kind, None)]
        if not text.strip() and not media:
            return None
        msg = InboundMessage(cid="", channel=self.name(), text=text, address=str(message.chat.id), media=media[:1])
        user = message.from_user
        if user is not None:
            msg.metadata.update(first_name=user.first_name or "", language_code=user.language_code or "")
        return msg

    def _in_background(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._background.add(task)
        task.add_done_callback(_log_failure)
        task.add_done_callback(self._background.discard)

    async def _payload(self, data: str) -> str:
        """A button's payload from its callback data (long payloads are kept in Redis)."""
        if not data.startswith("k:"):
            return data
        stored = await self.rt.redis.get(self.rt.keys.button_payload(data[2:]))
        if stored is None:
            raise InvalidInput("this button has expired; please type your answer")
        return str(stored)

    async def _callback_data(self, payload: str) -> str:
        if len(payload.encode()) <= MAX_CALLBACK_BYTES and not payload.startswith("k:"):
            return payload
        digest = hashlib.sha256(payload.encode()).hexdigest()[:24]
        await self.rt.redis.set(self.rt.keys.button_payload(digest), payload, ex=PAYLOAD_TTL_SECONDS)
        return "k:" + digest

    # -- outbound ---------------------------------------------------------------------------
    async def send(self, address: str, message: OutboundMessage) -> Optional[str]:
        """Sends text (split if long, each part in Telegram's HTML mode), an image as a photo, buttons as a keyboard."""
        text = for_phone(message.text, author_name=message.author_name if message.kind == "agent" else "")
        markup = None
        if message.buttons:
            markup = InlineKeyboardMarkup([
                [InlineKeyboardButton(title[:64], callback_data=await self._callback_data(payload))]
                for title, payload in message.buttons
            ])
        parts = split_text(text, MAX_MESSAGE_CHARS)
        try:
            if message.image:
                await self.bot.send_photo(address, message.image)
            for i, part in enumerate(parts):
                last = i == len(parts) - 1
                await self.bot.send_message(address, to_telegram_html(part), parse_mode=ParseMode.HTML,
                                            reply_markup=markup if last else None)
            if markup is not None and not parts:
                await self.bot.send_message(address, "…", reply_markup=markup)
        except (TelegramForbidden, TelegramBadRequest) as exc:
            raise Undeliverable(f"Telegram refused the message: {exc.message}") from exc
        except TelegramError as exc:
            raise DeliveryError(f"Telegram: {exc.message}") from exc
        return None  # Telegram sends no delivery updates to match ids against


def _check_shape(data: Dict[str, Any]) -> None:
    """Refuses the updates PTB cannot read or the channel cannot answer (see the module docstring).

    Raises:
        InvalidInput: What is wrong, by field.
    """
    for name in _MESSAGE_FIELDS:
        if name in data:
            _check_message(data[name], name)
    query = data.get("callback_query")
    if query is None:
        return
    if not isinstance(query, dict):
        raise InvalidInput("callback_query must be an object")
    if "data" in query and not isinstance(query["data"], str):
        raise InvalidInput("callback_query.data must be a string")
    if "message" in query:
        _check_message(query["message"], "callback_query.message")


def _check_message(message: Any, where: str) -> None:
    if not isinstance(message, dict):
        raise InvalidInput(f"{where} must be an object")
    chat = message.get("chat")
    if not isinstance(chat, dict) or not isinstance(chat.get("id"), int) or isinstance(chat.get("id"), bool):
        raise InvalidInput(f"{where} must have a chat with an integer id")
    date = message.get("date")
    if not isinstance(date, int) or isinstance(date, bool) or not 0 <= date <= _MAX_DATE:
        raise InvalidInput(f"{where}.date must be a Unix time between 1970 and 9999")
    for field in ("text", "caption"):
        if field in message and not isinstance(message[field], str):
            raise InvalidInput(f"{where}.{field} must be a string")
    if "from" in message and not isinstance(message["from"], dict):
        raise InvalidInput(f"{where}.from must be an object")


def _button_title(message: Any, data: str) -> str:
    markup = getattr(message, "reply_markup", None)
    for row in getattr(markup, "inline_keyboard", ()) or ():
        for button in row:
            if button.callback_data == data:
                return str(button.text)
    return ""


def _log_failure(task: asyncio.Task[Any]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.warning("telegram: background call failed: %s", task.exception())
