"""Talks to Rasa's HTTP API: reads a tracker, adds events to it.

The handoff service reads the bot's transcript for the console and writes the
handoff's outcome into the tracker when a conversation is closed, so the bot
resumes knowing what happened. Each call carries a short-lived JWT signed with
``RASA_API_TOKEN`` in its ``Authorization`` header (``core/rasa_api.py``); the
secret never goes into a URL.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional
from urllib.parse import quote

import aiohttp

from core.errors import Unavailable
from core.masking import mask_sensitive
from core.rasa_api import api_headers

__all__ = ["RasaClient", "RasaUnavailable", "transcript_from_tracker"]


class RasaUnavailable(Unavailable):
    """Rasa did not answer, or answered with an error."""


class RasaClient:
    """A small async client for ``rasa run --enable-api``."""

    def __init__(self, base_url: str, token: str, timeout: float = 10.0) -> None:
        """Keeps the address; the HTTP session is made on first use.

        Args:
            base_url: E.g. ``http://127.0.0.1:5005``.
            token: ``RASA_API_TOKEN``, the secret Rasa's API checks JWTs with.
            timeout: Seconds per request.
        """
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: Optional[aiohttp.ClientSession] = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def close(self) -> None:
        """Closes the HTTP session."""
        if self._session is not None:
            await self._session.close()

    def _auth(self) -> Dict[str, str]:
        return api_headers(self.token, username="kesher-handoff")

    def _url(self, cid: str, tail: str) -> str:
        return f"{self.base_url}/conversations/{quote(cid, safe='')}/{tail}"

    async def tracker(self, cid: str) -> Dict[str, Any]:
        """The conversation's tracker with every event of every session.

        Rasa answers this from the tracker store's ``retrieve_full_tracker``, which reads the whole
        conversation (``bot/tracker_store.py``), not the bounded window a bot turn reads.

        Raises:
            RasaUnavailable: Rasa is down or refused.
        """
        try:
            async with self._http().get(self._url(cid, "tracker"), headers=self._auth()) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"rasa answered {resp.status}: {(await resp.text())[:200]}")
                data: Dict[str, Any] = await resp.json()
                return data
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc

    async def append_events(self, cid: str, events: List[Dict[str, Any]]) -> None:
        """Adds events (e.g. slot events) to the end of the conversation.

        Raises:
            RasaUnavailable: Rasa is down or refused.
        """
        try:
            async with self._http().post(
                self._url(cid, "tracker/events"),
                headers=self._auth(),
                json=events,
            ) as resp:
                if resp.status != 200:
                    raise RasaUnavailable(f"rasa answered {resp.status}: {(await resp.text())[:200]}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise RasaUnavailable(str(exc) or type(exc).__name__) from exc


def transcript_from_tracker(tracker: Dict[str, Any]) -> List[Dict[str, Any]]:
    """The customer's and the bot's messages in a tracker, oldest first, card and ID numbers masked."""
    lines: List[Dict[str, Any]] = []
    for event in tracker.get("events") or []:
        kind = event.get("event")
        text = mask_sensitive(str(event.get("text") or ""))
        if kind == "user":
            lines.append({"role": "customer", "text": text, "at": event.get("timestamp", 0)})
        elif kind == "bot" and (event.get("text") or (event.get("data") or {}).get("buttons")):
            lines.append({"role": "bot", "text": text, "at": event.get("timestamp", 0)})
    return lines
