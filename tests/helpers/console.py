"""An agent using the console's HTTP API (login form, CSRF header), as the browser does."""

from __future__ import annotations

import asyncio
import json
import re
import time
from typing import Any, Callable, Dict, List

import requests
import websockets

from core.settings import Settings

DEMO_PASSWORD = "kesher-demo"  # the demo agents' password (handoff/agents.yml)


class ConsoleAgent:
    """One logged-in agent session."""

    def __init__(self, settings: Settings, agent_id: str, password: str = DEMO_PASSWORD) -> None:
        self.base = f"{settings.handoff_url}/console"
        self.agent_id = agent_id
        self.http = requests.Session()
        page = self.http.get(f"{self.base}/login", timeout=30)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        response = self.http.post(f"{self.base}/login", timeout=30, allow_redirects=True,
                                  data={"agent_id": agent_id, "password": password, "csrf_token": token})
        assert response.status_code == 200 and "csrf-token" in response.text, response.text[:500]
        self.csrf = re.search(r'<meta name="csrf-token" content="([^"]+)"', response.text).group(1)  # type: ignore[union-attr]

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
        deadline = time.monotonic() + timeout
        while True:
            texts = self.customer_texts(cid)
            if predicate(texts) or time.monotonic() > deadline:
                return texts
            time.sleep(0.2)

    def close(self, cid: str, resolution: str = "resolved", summary: str = "", next_steps: str = "") -> Any:
        return self.post(f"/api/chats/{cid}/close",
                         {"resolution": resolution, "summary": summary, "next_steps": next_steps}).json()


async def console_socket(base_url: str, session_cookie: str) -> Any:
    """Opens the console's websocket as the browser does (session cookie, own origin); reads the hello."""
    ws = await websockets.connect(base_url.replace("http://", "ws://") + "/console/ws", origin=base_url,
                                  extra_headers={"Cookie": f"kesher_session={session_cookie}"})
    hello = json.loads(await ws.recv())
    assert hello["type"] == "hello", hello
    return ws


async def next_frame(ws: Any, predicate: Callable[[Dict[str, Any]], bool], seconds: float = 8.0) -> Dict[str, Any]:
    """The next frame from the console's websocket that satisfies ``predicate``."""
    async def loop() -> Dict[str, Any]:
        while True:
            frame: Dict[str, Any] = json.loads(await ws.recv())
            if predicate(frame):
                return frame

    return await asyncio.wait_for(loop(), seconds)
