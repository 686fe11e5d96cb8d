"""A running Kesher (redis-server, action server, rasa run) and a client of its REST channel."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

import requests

from core.language import is_hebrew
from core.rasa_api import api_headers
from core.settings import Settings
from handoff.identity import conversation_id


@dataclass
class Reply:
    """What the bot answered to one message."""

    messages: List[Dict[str, Any]]

    @property
    def text(self) -> str:
        return "\n".join(m.get("text", "") for m in self.messages)

    @property
    def buttons(self) -> List[str]:
        return [b["title"] for m in self.messages for b in m.get("buttons", [])]

    def is_hebrew(self) -> bool:
        return is_hebrew(self.text)

    def is_english(self) -> bool:
        return bool(self.text) and not self.is_hebrew()


class Customer:
    """One customer talking to the bot over Kesher's REST channel (``connectors/rest.py``)."""

    def __init__(self, settings: Settings, sender_id: Optional[str] = None) -> None:
        self.settings = settings
        self.sender_id = sender_id or f"test-{uuid.uuid4().hex[:10]}"
        self.base = f"http://127.0.0.1:{settings.rasa_port}"

    @property
    def cid(self) -> str:
        """The conversation (and Rasa tracker) this customer writes into: ``kesher_rest:<sender>``."""
        return conversation_id("kesher_rest", self.sender_id)

    def say(self, text: str) -> Reply:
        response = requests.post(
            f"{self.base}/webhooks/kesher_rest/webhook",
            json={"sender": self.sender_id, "message": text},
            headers={"Authorization": f"Bearer {self.settings.rest_token}"},
            timeout=120,
        )
        assert response.status_code == 200, response.text
        return Reply(response.json())

    def tracker(self) -> Dict[str, Any]:
        response = requests.get(
            f"{self.base}/conversations/{self.cid}/tracker",
            headers=api_headers(self.settings.rasa_api_token),
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def slots(self) -> Dict[str, Any]:
        return self.tracker()["slots"]
