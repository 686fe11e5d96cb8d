"""A customer on the loopback ``kesher_callback`` channel, with an inbox for what is sent back."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Callable, Dict, List, Optional

import requests

from connectors.callback import SECRET_HEADER
from core.settings import Settings
from handoff.identity import conversation_id
from tests.helpers.local_server import LocalServer, QuietHandler

Messages = List[Dict[str, Any]]


class CallbackInbox(LocalServer):
    """An HTTP server on loopback that records every message Kesher POSTs to customers."""

    def __init__(self) -> None:
        self.messages: Dict[str, List[Dict[str, Any]]] = {}
        inbox = self

        class Handler(QuietHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                message = json.loads(body)
                with inbox.cond:
                    inbox.messages.setdefault(message["recipient_id"], []).append(message)
                    inbox.cond.notify_all()
                self.send_response(200)
                self.end_headers()

        super().__init__(Handler, "callback-inbox")

    @property
    def url(self) -> str:
        return f"{self.base_url}/inbox"

    def of(self, recipient: str) -> List[Dict[str, Any]]:
        with self.cond:
            return list(self.messages.get(recipient, []))

    def wait(self, recipient: str, predicate: Callable[[Messages], bool], timeout: float = 60) -> Messages:
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                got = list(self.messages.get(recipient, []))
                if predicate(got):
                    return got
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"timed out; {recipient} received: {[m['text'] for m in got]}")
                self.cond.wait(left)


class CallbackCustomer:
    """One customer writing on the callback channel and reading the inbox."""

    def __init__(self, settings: Settings, inbox: CallbackInbox, sender_id: Optional[str] = None) -> None:
        self.settings = settings
        self.inbox = inbox
        self.sender_id = sender_id or f"cb-{uuid.uuid4().hex[:10]}"
        self.url = f"http://127.0.0.1:{settings.rasa_port}/webhooks/kesher_callback/webhook"

    @property
    def cid(self) -> str:
        """The conversation this customer writes into (the channel's own: ``kesher_callback:<sender>``)."""
        return conversation_id("kesher_callback", self.sender_id)

    def send(self, text: str, message_id: Optional[str] = None) -> requests.Response:
        body: Dict[str, Any] = {"sender": self.sender_id, "message": text}
        if message_id:
            body["message_id"] = message_id
        return requests.post(self.url, json=body, headers={SECRET_HEADER: self.settings.callback_secret},
                             timeout=120)

    def say(self, text: str, until: Callable[[Messages], bool], timeout: float = 60) -> Messages:
        """Sends ``text`` and waits until the messages received after it satisfy ``until``."""
        before = len(self.inbox.of(self.sender_id))
        response = self.send(text)
        assert response.status_code == 200, response.text
        got = self.inbox.wait(self.sender_id, lambda msgs: until(msgs[before:]), timeout)
        return got[before:]

    def received(self) -> List[Dict[str, Any]]:
        return self.inbox.of(self.sender_id)
