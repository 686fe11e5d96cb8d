"""A stand-in for the Telegram Bot API on loopback, recording what it is sent.

:class:`FakeTelegram` answers ``/bot<token>/<method>`` like ``api.telegram.org`` does for the
methods Kesher uses, so tests can point the real python-telegram-bot ``Bot`` at it::

    with FakeTelegram() as fake:
        bot = telegram.Bot(fake.token, base_url=fake.base_url + "/bot")
        await bot.send_message(4242, "שלום")
        assert fake.texts(4242) == ["שלום"]
        await bot.shutdown()

It also builds what Telegram sends *to* Kesher (:func:`text_update`, :func:`callback_update`,
:func:`webhook_headers`) and can deliver such an update to the webhook a bot registered
(:meth:`FakeTelegram.deliver_async`), secret-token header included.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import time
from dataclasses import dataclass, field
from email import policy
from email.message import Message
from email.parser import BytesParser
from typing import Any, Callable, Dict, List, Optional, Tuple, Union
from urllib.parse import parse_qsl, urlsplit

import httpx

from tests.helpers.local_server import LocalServer, QuietHandler

JSONDict = Dict[str, Any]

DEFAULT_TOKEN = "5550001234:AAFakeTelegramTokenForKesherTests_0123"
DEFAULT_BOT_USERNAME = "kesher_test_bot"
DEFAULT_BOT_FIRST_NAME = "Kesher"
SECRET_TOKEN_HEADER = "X-Telegram-Bot-Api-Secret-Token"

MAX_TEXT_CHARS = 4096
MAX_CAPTION_CHARS = 1024
MAX_CALLBACK_DATA_BYTES = 64
_SECRET_TOKEN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")

# Form fields the Bot API types as strings: PTB sends them verbatim, every other field JSON-encoded
# (``chat_id=42``, ``disable_notification=true``, ``reply_markup={...}``).
_STRING_FIELDS = frozenset({
    "action", "business_connection_id", "callback_query_id", "caption", "description", "emoji",
    "inline_message_id", "ip_address", "language_code", "message_effect_id", "parse_mode", "photo",
    "secret_token", "text", "title", "url",
})
# Fields holding a JSON object or array, which Telegram also accepts as a JSON string in a JSON body.
_JSON_FIELDS = frozenset({
    "allowed_updates", "caption_entities", "entities", "link_preview_options", "media", "reply_markup",
    "reply_parameters",
})


def bot_id_of(token: str) -> int:
    """The bot's user id: the number before the colon of its token (1 if there is none)."""
    head = token.partition(":")[0]
    return int(head) if head.isdigit() else 1


def _utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class Call:
    """One Bot API request the fake received.

    Attributes:
        method: The method as requested (``"sendMessage"``).
        params: Its parameters with Telegram's types: ints, bools, and ``reply_markup``,
            ``entities`` etc. as parsed JSON; an uploaded file as
            ``{"filename", "content_type", "data": bytes}``.
        status: The HTTP status the fake answered (200, or the error's).
        result: The ``result`` it answered with (``None`` for errors).
    """

    method: str
    params: JSONDict
    status: int = 200
    result: Any = None


@dataclass
class _Failure:
    method: Optional[str]
    status: int
    description: Optional[str]
    retry_after: Optional[int]


@dataclass
class _State:
    calls: List[Call] = field(default_factory=list)
    failures: List[_Failure] = field(default_factory=list)
    webhook: Optional[JSONDict] = None
    sent: Dict[Tuple[int, int], JSONDict] = field(default_factory=dict)
    next_message_id: Dict[int, int] = field(default_factory=dict)


class _ApiError(Exception):
    """A Bot API error response (``{"ok": false, ...}``)."""

    def __init__(self, status: int, description: str, parameters: Optional[JSONDict] = None) -> None:
        super().__init__(description)
        self.status = status
        self.description = description
        self.parameters = parameters

    def body(self) -> JSONDict:
        body: JSONDict = {"ok": False, "error_code": self.status, "description": self.description}
        if self.parameters:
            body["parameters"] = self.parameters
        return body


def _bad_request(detail: str) -> _ApiError:
    return _ApiError(400, f"Bad Request: {detail}")


_DEFAULT_DESCRIPTIONS = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden: bot was blocked by the user",
    404: "Not Found",
    409: "Conflict",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
}


class FakeTelegram(LocalServer):
    """The Telegram Bot API on ``127.0.0.1`` (a free port), served from a daemon thread.

    Implements getMe, sendMessage, sendPhoto, sendChatAction, answerCallbackQuery,
    editMessageReplyMarkup, editMessageText, deleteMessage, setWebhook, deleteWebhook and
    getWebhookInfo; accepts JSON, form-encoded and multipart requests. Use it as a context
    manager or call :meth:`close`.

    Args:
        token: The only token it accepts; a request with another gets ``401 Unauthorized``.
        bot_username: The bot's ``username`` (getMe, ``from`` of its messages).
        bot_first_name: The bot's ``first_name``.
    """

    def __init__(
        self,
        token: str = DEFAULT_TOKEN,
        bot_username: str = DEFAULT_BOT_USERNAME,
        bot_first_name: str = DEFAULT_BOT_FIRST_NAME,
    ) -> None:
        self.token = token
        self.bot_user: JSONDict = {
            "id": bot_id_of(token),
            "is_bot": True,
            "first_name": bot_first_name,
            "username": bot_username,
        }
        self._state = _State()
        self._file_ids = itertools.count(1)
        fake = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                self._reply(*fake._handle(self.path, self.headers, body))

            def do_GET(self) -> None:
                self._reply(*fake._handle(self.path, self.headers, b""))

            def _reply(self, status: int, payload: JSONDict) -> None:
                data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        super().__init__(Handler, "fake-telegram")

    # -- lifecycle ---------------------------------------------------------------------------

    @property
    def bot_id(self) -> int:
        """The bot's user id (from the token)."""
        return int(self.bot_user["id"])

    # -- what was received -------------------------------------------------------------------

    @property
    def calls(self) -> List[Call]:
        """Every request, in arrival order, failed ones included (see :attr:`Call.status`)."""
        with self.cond:
            return list(self._state.calls)

    def calls_of(self, method: str, include_failed: bool = False) -> List[Call]:
        """The requests of ``method`` (case-insensitive); only answered-200 ones unless ``include_failed``."""
        wanted = method.lower()
        return [c for c in self.calls if c.method.lower() == wanted and (include_failed or c.status == 200)]

    def sent_messages(self, chat_id: Union[int, str]) -> List[JSONDict]:
        """The parameters of every successful sendMessage to ``chat_id`` (``reply_markup`` as a dict)."""
        return [c.params for c in self.calls_of("sendMessage") if _same_chat(c.params.get("chat_id"), chat_id)]

    def texts(self, chat_id: Union[int, str]) -> List[str]:
        """The texts of every successful sendMessage to ``chat_id``."""
        return [str(p.get("text")) for p in self.sent_messages(chat_id)]

    @property
    def webhook(self) -> Optional[JSONDict]:
        """What the last setWebhook set (``url``, ``secret_token``, ...); ``None`` if none or deleted."""
        with self.cond:
            return dict(self._state.webhook) if self._state.webhook else None

    def wait_for(
        self,
        method: str,
        until: Union[int, Callable[[List[Call]], bool]] = 1,
        timeout: float = 30,
        chat_id: Union[int, str, None] = None,
    ) -> List[Call]:
        """Blocks until the successful calls of ``method`` satisfy ``until``; returns them.

        Do not call this from a coroutine whose event loop must keep running to make the
        calls; use :meth:`wait_for_async` there.

        Args:
            method: The Bot API method (case-insensitive).
            until: A count to reach, or a predicate on the list of calls.
            timeout: Seconds to wait.
            chat_id: Only count calls to this chat.

        Returns:
            The successful calls of ``method`` (to ``chat_id``, if given) when ``until`` first held.

        Raises:
            AssertionError: If ``timeout`` passed first.
        """
        wanted = method.lower()
        predicate: Callable[[List[Call]], bool]
        if isinstance(until, int):
            count = until
            predicate = lambda calls: len(calls) >= count  # noqa: E731
        else:
            predicate = until
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = [
                    c
                    for c in self._state.calls
                    if c.method.lower() == wanted
                    and c.status == 200
                    and (chat_id is None or _same_chat(c.params.get("chat_id"), chat_id))
                ]
                if predicate(got):
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(c.method, c.params.get("chat_id"), c.params.get("text"), c.status)
                            for c in self._state.calls]
                    raise AssertionError(
                        f"timed out waiting for {method}; received (method, chat, text, status): {seen}"
                    )
                self.cond.wait(left)

    async def wait_for_async(
        self,
        method: str,
        until: Union[int, Callable[[List[Call]], bool]] = 1,
        timeout: float = 30,  # noqa: ASYNC109 - bounds the worker thread's wait, as in wait_for
        chat_id: Union[int, str, None] = None,
    ) -> List[Call]:
        """:meth:`wait_for` in a worker thread, so the event loop keeps running."""
        return await asyncio.to_thread(self.wait_for, method, until, timeout, chat_id)

    def fail_next(
        self,
        n: int = 1,
        status: int = 500,
        method: Optional[str] = None,
        retry_after: Optional[int] = None,
        description: Optional[str] = None,
    ) -> None:
        """Makes the next ``n`` requests (of ``method``, if given) fail.

        Args:
            n: How many requests fail.
            status: Their HTTP status and ``error_code`` (500 → PTB ``NetworkError``, 403 →
                ``Forbidden``, 400 → ``BadRequest``, 429 → ``RetryAfter`` with ``retry_after``).
            method: Only fail this method (case-insensitive), e.g. ``"sendMessage"`` so that
                ``initialize()``'s getMe still works.
            retry_after: Seconds in ``parameters.retry_after`` (Telegram's flood control, status 429).
            description: The ``description``; Telegram's usual wording for ``status`` by default.
        """
        with self.cond:
            self._state.failures.extend(_Failure(method, status, description, retry_after) for _ in range(n))

    def clear(self) -> None:
        """Forgets calls, sent messages, the webhook and pending :meth:`fail_next`."""
        with self.cond:
            self._state = _State()

    # -- delivering updates to the bot's webhook ----------------------------------------------

    def _delivery(self) -> Tuple[str, Dict[str, str]]:
        hook = self.webhook
        if not hook or not hook.get("url"):
            raise AssertionError("no webhook is set (setWebhook was not called, or deleteWebhook was)")
        return str(hook["url"]), webhook_headers(hook.get("secret_token"))

    def deliver(self, update: JSONDict, timeout: float = 30) -> httpx.Response:
        """POSTs ``update`` to the registered webhook as Telegram does (secret token header included).

        Blocking: from a coroutine use :meth:`deliver_async`.

        Raises:
            AssertionError: If no webhook is set.
        """
        url, headers = self._delivery()
        return httpx.post(url, json=update, headers=headers, timeout=timeout)

    async def deliver_async(
        self, update: JSONDict, timeout: float = 30  # noqa: ASYNC109 - the HTTP client's timeout
    ) -> httpx.Response:
        """:meth:`deliver` with an async client.

        Raises:
            AssertionError: If no webhook is set.
        """
        url, headers = self._delivery()
        async with httpx.AsyncClient(timeout=timeout) as client:
            return await client.post(url, json=update, headers=headers)

    # -- the API -----------------------------------------------------------------------------

    def _handle(self, raw_path: str, headers: Message, body: bytes) -> Tuple[int, JSONDict]:
        parts = urlsplit(raw_path)
        prefix, _, method = parts.path.rpartition("/")
        token = prefix[len("/bot"):] if prefix.startswith("/bot") else None
        error: Optional[_ApiError] = None
        try:
            params = _parse_params(headers, body, parts.query)
        except ValueError as exc:
            params, error = {}, _bad_request(f"can't parse request: {exc}")
        call = Call(method=method, params=params)
        try:
            if token != self.token:
                raise _ApiError(401, "Unauthorized")
            if error is not None:
                raise error
            self._maybe_fail(method)
            call.result = self._dispatch(method, params)
        except _ApiError as exc:
            call.status = exc.status
            response = exc.body()
        else:
            response = {"ok": True, "result": call.result}
            if method.lower() in ("setwebhook", "deletewebhook"):
                response["description"] = "Webhook was set" if method.lower() == "setwebhook" else "Webhook was deleted"
        with self.cond:
            self._state.calls.append(call)
            self.cond.notify_all()
        return call.status, response

    def _maybe_fail(self, method: str) -> None:
        with self.cond:
            for i, failure in enumerate(self._state.failures):
                if failure.method is None or failure.method.lower() == method.lower():
                    del self._state.failures[i]
                    break
            else:
                return
        description = failure.description or _DEFAULT_DESCRIPTIONS.get(failure.status, "Internal Server Error")
        parameters = None
        if failure.retry_after is not None:
            parameters = {"retry_after": failure.retry_after}
            if failure.description is None:
                description = f"Too Many Requests: retry after {failure.retry_after}"
        raise _ApiError(failure.status, description, parameters)

    def _dispatch(self, method: str, params: JSONDict) -> Any:
        handlers: Dict[str, Callable[[JSONDict], Any]] = {
            "getme": lambda p: dict(self.bot_user, can_join_groups=True, can_read_all_group_messages=False,
                                    supports_inline_queries=False, can_connect_to_business=False,
                                    has_main_web_app=False),
            "sendmessage": self._send_message,
            "sendphoto": self._send_photo,
            "sendchataction": self._send_chat_action,
            "answercallbackquery": self._answer_callback_query,
            "editmessagereplymarkup": self._edit_reply_markup,
            "editmessagetext": self._edit_text,
            "deletemessage": self._delete_message,
            "setwebhook": self._set_webhook,
            "deletewebhook": self._delete_webhook,
            "getwebhookinfo": self._webhook_info,
        }
        handler = handlers.get(method.lower())
        if handler is None:
            raise _ApiError(404, "Not Found")
        return handler(params)

    def _chat(self, params: JSONDict) -> JSONDict:
        chat_id = params.get("chat_id")
        if chat_id is None or chat_id == "":
            raise _bad_request("chat_id is empty")
        if isinstance(chat_id, bool) or not isinstance(chat_id, int):
            raise _bad_request("chat not found")
        if chat_id > 0:
            return {"id": chat_id, "first_name": "Customer", "type": "private"}
        kind = "supergroup" if chat_id < -1_000_000_000_000 else "group"
        return {"id": chat_id, "title": "Group", "type": kind}

    def _new_message(self, chat: JSONDict, params: JSONDict, **content: Any) -> JSONDict:
        markup = _check_markup(params.get("reply_markup"))
        with self.cond:
            message_id = self._state.next_message_id.get(chat["id"], 1)
            self._state.next_message_id[chat["id"]] = message_id + 1
        message: JSONDict = {
            "message_id": message_id,
            "from": dict(self.bot_user),
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        if isinstance(markup, dict) and "inline_keyboard" in markup:
            message["reply_markup"] = markup  # Telegram echoes inline keyboards only
        with self.cond:
            self._state.sent[(chat["id"], message_id)] = message
        return message

    def _send_message(self, params: JSONDict) -> JSONDict:
        chat = self._chat(params)
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad_request("message text is empty")
        if _utf16_len(text) > MAX_TEXT_CHARS:
            raise _bad_request("message is too long")
        content: JSONDict = {"text": text}
        if params.get("entities"):
            content["entities"] = params["entities"]
        return self._new_message(chat, params, **content)

    def _send_photo(self, params: JSONDict) -> JSONDict:
        chat = self._chat(params)
        photo = params.get("photo")
        if not photo:
            raise _bad_request("there is no photo in the request")
        caption = params.get("caption")
        if isinstance(caption, str) and _utf16_len(caption) > MAX_CAPTION_CHARS:
            raise _bad_request("message caption is too long")
        n = next(self._file_ids)
        sizes = [
            {"file_id": f"AgAC-fake-{n}-{w}", "file_unique_id": f"AQAD-{n}-{w}", "width": w, "height": w * 3 // 4,
             "file_size": w * 60}
            for w in (90, 320, 800)
        ]
        content: JSONDict = {"photo": sizes}
        if caption:
            content["caption"] = caption
        return self._new_message(chat, params, **content)

    def _send_chat_action(self, params: JSONDict) -> bool:
        self._chat(params)
        if not params.get("action"):
            raise _bad_request("action is empty")
        return True

    def _answer_callback_query(self, params: JSONDict) -> bool:
        if not params.get("callback_query_id"):
            raise _bad_request("query is too old and response timeout expired or query ID is invalid")
        return True

    def _edited(self, params: JSONDict) -> Tuple[Optional[JSONDict], JSONDict]:
        """The stored message an edit targets (``None`` for unknown or inline messages) and a copy to edit."""
        if params.get("inline_message_id"):
            return None, {}
        chat = self._chat(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise _bad_request("message identifier is not specified")
        with self.cond:
            stored = self._state.sent.get((chat["id"], message_id))
        base = dict(stored) if stored else {"message_id": message_id, "from": dict(self.bot_user), "chat": chat,
                                              "date": int(time.time())}
        return stored, base

    def _edit_reply_markup(self, params: JSONDict) -> Union[bool, JSONDict]:
        markup = _check_markup(params.get("reply_markup"))
        stored, message = self._edited(params)
        if params.get("inline_message_id"):
            return True
        if stored is not None and stored.get("reply_markup") == (markup or None):
            raise _bad_request("message is not modified: specified new message content and reply markup are "
                               "exactly the same as a current content and reply markup of the message")
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        self._store(message)
        return message

    def _edit_text(self, params: JSONDict) -> Union[bool, JSONDict]:
        text = params.get("text")
        if not isinstance(text, str) or not text.strip():
            raise _bad_request("message text is empty")
        markup = _check_markup(params.get("reply_markup"))
        stored, message = self._edited(params)
        if params.get("inline_message_id"):
            return True
        if stored is not None and stored.get("text") == text and stored.get("reply_markup") == (markup or None):
            raise _bad_request("message is not modified: specified new message content and reply markup are "
                               "exactly the same as a current content and reply markup of the message")
        message["text"] = text
        message.pop("reply_markup", None)
        if markup:
            message["reply_markup"] = markup
        message["edit_date"] = int(time.time())
        self._store(message)
        return message

    def _store(self, message: JSONDict) -> None:
        with self.cond:
            self._state.sent[(message["chat"]["id"], message["message_id"])] = message

    def _delete_message(self, params: JSONDict) -> bool:
        chat = self._chat(params)
        message_id = params.get("message_id")
        if not isinstance(message_id, int):
            raise _bad_request("message identifier is not specified")
        with self.cond:
            if self._state.sent.pop((chat["id"], message_id), None) is None:
                raise _bad_request("message to delete not found")
        return True

    def _set_webhook(self, params: JSONDict) -> bool:
        url = params.get("url")
        secret = params.get("secret_token")
        if secret is not None and not (isinstance(secret, str) and _SECRET_TOKEN.match(secret)):
            raise _bad_request("secret token contains unallowed characters")
        if not url:
            with self.cond:
                self._state.webhook = None
            return True
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise _bad_request("bad webhook: An HTTPS URL must be provided for webhook")
        hook: JSONDict = {"url": url, "secret_token": secret}
        for key in ("allowed_updates", "drop_pending_updates", "max_connections", "ip_address"):
            if key in params:
                hook[key] = params[key]
        with self.cond:
            self._state.webhook = hook
        return True

    def _delete_webhook(self, params: JSONDict) -> bool:
        with self.cond:
            self._state.webhook = None
        return True

    def _webhook_info(self, params: JSONDict) -> JSONDict:
        hook = self.webhook
        info: JSONDict = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        if hook:
            info.update(url=hook["url"], max_connections=hook.get("max_connections", 40), ip_address="127.0.0.1")
            if hook.get("allowed_updates"):
                info["allowed_updates"] = hook["allowed_updates"]
        return info


# -- request parsing -------------------------------------------------------------------------------


def _same_chat(a: Any, b: Any) -> bool:
    return a is not None and str(a) == str(b)


def _decode_field(name: str, value: str) -> Any:
    """A form field as Telegram types it (PTB JSON-encodes every non-string parameter)."""
    if name in _STRING_FIELDS:
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def _normalize(params: JSONDict) -> JSONDict:
    for name in _JSON_FIELDS & params.keys():
        if isinstance(params[name], str):
            try:
                params[name] = json.loads(params[name])
            except ValueError as exc:
                raise ValueError(f"field {name} is not JSON") from exc
    return params


def _parse_multipart(content_type: str, body: bytes) -> JSONDict:
    envelope = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode() + body
    message = BytesParser(policy=policy.HTTP).parsebytes(envelope)
    params: JSONDict = {}
    for part in message.walk():
        if part.is_multipart():
            continue
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str):
            continue
        data = part.get_payload(decode=True)
        data = data if isinstance(data, bytes) else b""
        filename = part.get_filename()
        if filename is not None:
            params[name] = {"filename": filename, "content_type": part.get_content_type(), "data": data}
        else:
            params[name] = _decode_field(name, data.decode(part.get_content_charset() or "utf-8"))
    return params


def _parse_params(headers: Message, body: bytes, query: str) -> JSONDict:
    """The request's parameters, whatever way they came (query string, JSON, form, multipart)."""
    params: JSONDict = {name: _decode_field(name, value) for name, value in parse_qsl(query, keep_blank_values=True)}
    content_type = headers.get_content_type()
    if body:
        if content_type == "application/json":
            decoded = json.loads(body)
            if not isinstance(decoded, dict):
                raise ValueError("the JSON body is not an object")
            params.update(decoded)
        elif content_type == "multipart/form-data":
            params.update(_parse_multipart(str(headers.get("Content-Type")), body))
        else:
            form = parse_qsl(body.decode("utf-8"), keep_blank_values=True)
            params.update({name: _decode_field(name, value) for name, value in form})
    return _normalize(params)


def _check_markup(markup: Any) -> Optional[JSONDict]:
    if markup is None or markup == "":
        return None
    if not isinstance(markup, dict):
        raise _bad_request("can't parse reply keyboard markup JSON object")
    for row in markup.get("inline_keyboard", []):
        for button in row:
            data = button.get("callback_data")
            if data is not None and not 1 <= len(str(data).encode("utf-8")) <= MAX_CALLBACK_DATA_BYTES:
                raise _bad_request("BUTTON_DATA_INVALID")
    return markup


# -- what Telegram sends to Kesher ----------------------------------------------------------------


def webhook_headers(secret_token: Optional[str] = None) -> Dict[str, str]:
    """The headers Telegram sends with a webhook update (``secret_token`` as setWebhook set it)."""
    headers = {"Content-Type": "application/json"}
    if secret_token:
        headers[SECRET_TOKEN_HEADER] = secret_token
    return headers


def _user(user_id: int, first_name: str, language_code: str) -> JSONDict:
    return {"id": user_id, "is_bot": False, "first_name": first_name, "language_code": language_code}


def _private_chat(chat_id: int, first_name: str) -> JSONDict:
    return {"id": chat_id, "first_name": first_name, "type": "private"}


def text_update(
    update_id: int,
    chat_id: int,
    text: str,
    first_name: str = "Dana",
    language_code: str = "he",
    message_id: Optional[int] = None,
) -> JSONDict:
    """An update carrying a customer's text message in a private chat.

    A text starting with ``/`` (``/start``, ``/start@bot payload``) gets its ``bot_command``
    entity, as Telegram sends it.

    Args:
        update_id: The update's id (Telegram's are increasing).
        chat_id: The private chat's id, which is also the customer's user id.
        text: What the customer wrote.
        first_name: The customer's first name.
        language_code: The customer's Telegram language (IETF tag).
        message_id: The message's id; ``update_id`` by default.

    Returns:
        The JSON dict Telegram POSTs to the webhook (``telegram.Update.de_json`` accepts it).
    """
    message: JSONDict = {
        "message_id": update_id if message_id is None else message_id,
        "from": _user(chat_id, first_name, language_code),
        "chat": _private_chat(chat_id, first_name),
        "date": int(time.time()),
        "text": text,
    }
    if text.startswith("/") and len(text) > 1:
        command = text.split()[0]
        message["entities"] = [{"offset": 0, "length": _utf16_len(command), "type": "bot_command"}]
    return {"update_id": update_id, "message": message}


def callback_update(
    update_id: int,
    chat_id: int,
    data: str,
    message_id: int,
    first_name: str = "Dana",
    language_code: str = "he",
    message_text: str = "",
    token: str = DEFAULT_TOKEN,
    bot_username: str = DEFAULT_BOT_USERNAME,
    bot_first_name: str = DEFAULT_BOT_FIRST_NAME,
) -> JSONDict:
    """An update carrying a press on an inline button of the bot's message ``message_id``.

    Args:
        update_id: The update's id.
        chat_id: The private chat's id, which is also the customer's user id.
        data: The button's ``callback_data``.
        message_id: The id of the bot's message that carries the button.
        first_name: The customer's first name.
        language_code: The customer's Telegram language.
        message_text: The text of the bot's message, if it matters.
        token: The bot's token (its id is the ``from`` of the message).
        bot_username: The bot's username.
        bot_first_name: The bot's first name.

    Returns:
        The JSON dict Telegram POSTs to the webhook; ``callback_query.id`` is
        ``"cbq-<update_id>"``.
    """
    message: JSONDict = {
        "message_id": message_id,
        "from": {"id": bot_id_of(token), "is_bot": True, "first_name": bot_first_name, "username": bot_username},
        "chat": _private_chat(chat_id, first_name),
        "date": int(time.time()) - 1,
    }
    if message_text:
        message["text"] = message_text
    return {
        "update_id": update_id,
        "callback_query": {
            "id": f"cbq-{update_id}",
            "from": _user(chat_id, first_name, language_code),
            "chat_instance": str(-(abs(chat_id) * 7919 % 10**18) or -1),
            "data": data,
            "message": message,
        },
    }
