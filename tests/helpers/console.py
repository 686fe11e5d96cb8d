"""An agent using the console's HTTP API (login form, CSRF header), as the browser does."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any, Callable, Dict, List

import requests
from websockets.client import WebSocketClientProtocol, connect
from websockets.typing import Origin

from core.settings import Settings
from tests.helpers.waiting import until_sync

DEMO_PASSWORD = "kesher-demo"  # the demo agents' password (handoff/agents.yml)


def _found(pattern: str, html: str) -> str:
    """The first group of ``pattern`` in a page; fails the test, showing the page, if it is not there."""
    match = re.search(pattern, html)
    assert match is not None, f"{pattern!r} not in the page: {html[:500]}"
    return match.group(1)


class ConsoleAgent:
    """One logged-in agent session."""

    def __init__(self, settings: Settings, agent_id: str, password: str = DEMO_PASSWORD) -> None:
        self.base = f"{settings.handoff_url}/console"
        self.agent_id = agent_id
        self.http = requests.Session()
        page = self.http.get(f"{self.base}/login", timeout=30)
        token = _found(r'name="csrf_token" value="([^"]+)"', page.text)
        response = self.http.post(f"{self.base}/login", timeout=30, allow_redirects=True,
                                  data={"agent_id": agent_id, "password": password, "csrf_token": token})
        assert response.status_code == 200, response.text[:500]
        self.csrf = _found(r'<meta name="csrf-token" content="([^"]+)"', response.text)

    def get(self, path: str) -> Any:
        response = self.http.get(f"{self.base}{path}", timeout=30)
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def post(self, path: str, body: Dict[str, Any], expect: int = 200) -> requests.Response:
        response = self.http.post(f"{self.base}{path}", json=body, headers={"X-CSRF-Token": self.csrf}, timeout=30)
        assert response.status_code == expect, (path, response.status_code, response.text)
        return response

    def presence(self, status: str) -> None:
        self.post("/api/presence", {"status": status})

    def queue(self) -> List[Dict[str, Any]]:
        data = self.get("/api/queue")
        return data["queue"] if isinstance(data, dict) else data

    def take(self, cid: str) -> Dict[str, Any]:
        return self.post(f"/api/chats/{cid}/take", {}).json()

    def send(self, cid: str, text: str) -> Dict[str, Any]:
        return self.post(f"/api/chats/{cid}/messages", {"text": text}, expect=201).json()

    def events(self, cid: str) -> List[Dict[str, Any]]:
        data = self.get(f"/api/chats/{cid}/events")
        return data["events"] if isinstance(data, dict) else data

    def customer_texts(self, cid: str) -> List[str]:
        return [e["text"] for e in self.events(cid) if e["kind"] == "customer"]

    def wait_customer_texts(self, cid: str, predicate: Callable[[List[str]], bool], timeout: float = 30) -> List[str]:
        """The customer's messages in the chat once they satisfy ``predicate``; fails if they never do."""
        seen: List[List[str]] = []

        def satisfied() -> bool:
            seen.append(self.customer_texts(cid))
            return predicate(seen[-1])

        try:
            until_sync(satisfied, what=f"the customer's messages in {cid}", timeout=timeout, every=0.2)
        except AssertionError as exc:
            raise AssertionError(f"{exc}; the messages were: {seen[-1]}") from None
        return seen[-1]

    def close(self, cid: str, resolution: str = "resolved", summary: str = "", next_steps: str = "") -> Any:
        return self.post(f"/api/chats/{cid}/close",
                         {"resolution": resolution, "summary": summary, "next_steps": next_steps}).json()


async def console_socket(base_url: str, session_cookie: str) -> WebSocketClientProtocol:
    """Opens the console's websocket as the browser does (session cookie, own origin); reads the hello."""
    ws = await connect(base_url.replace("http://", "ws://") + "/console/ws", origin=Origin(base_url),
                       extra_headers={"Cookie": f"kesher_session={session_cookie}"})
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello", hello
    return ws


async def next_frame(
    ws: WebSocketClientProtocol, predicate: Callable[[Dict[str, Any]], bool], seconds: float = 8.0
) -> Dict[str, Any]:
    """The next frame from the console's websocket that satisfies ``predicate``."""
    async def loop() -> Dict[str, Any]:
        while True:
            frame: Dict[str, Any] = json.loads(await ws.recv())
            if predicate(frame):
                return frame

    return await asyncio.wait_for(loop(), seconds)
