"""The fuzz tests' one rule: no input gets a 5xx, and every 4xx says what was wrong."""

from __future__ import annotations

import json
from typing import Any, Dict, Optional

import httpx

from tests.fuzz import report


def reason_of(response: httpx.Response) -> str:
    """The message a 4xx carries: the JSON error (``error``, ``message`` or ``description``), else the text."""
    try:
        body: Any = response.json()
    except ValueError:
        return response.text.strip()
    if isinstance(body, dict):
        for key in ("error", "message", "description"):
            if isinstance(body.get(key), str) and body[key].strip():
                return str(body[key])
    return ""


def check(route: str, response: httpx.Response, sent: Optional[Dict[str, Any]] = None) -> None:
    """Counts the answer and fails on a 5xx or a 4xx without a message."""
    report.record(route, response.status_code)
    shown = f"{route} answered {response.status_code}: {response.text[:300]!r}; sent {str(sent)[:300]}"
    assert response.status_code < 500, shown
    if 400 <= response.status_code < 500:
        assert reason_of(response), f"a {response.status_code} without a message: {shown}"


def check_frame(route: str, frame: Dict[str, Any], sent: Any) -> None:
    """The same rule for a websocket's error frame ``{"type": "error", "status", "error"}``."""
    status = int(frame.get("status") or 0)
    report.record(route, status)
    assert 400 <= status < 500, f"{route} answered the frame {str(sent)[:300]} with {json.dumps(frame)[:300]}"
    assert str(frame.get("error") or "").strip(), f"{route}: an error frame without a message: {frame}"


# Websocket close codes that refuse the client's input, as the HTTP status they stand for.
_CLIENT_CLOSES = {1000: 200, 1001: 200, 1002: 400, 1003: 400, 1007: 400, 1008: 403, 1009: 413}


def check_close(route: str, code: Optional[int], sent: Any) -> None:
    """A closed websocket: a normal close, a refusal of the input (1002, 1003, 1007, 1008, 1009) or 4000 + a
    4xx status; never 1011 (internal error), 1006 (dropped) or 4000 + a 5xx."""
    status = code - 4000 if code is not None and 4000 <= code < 5000 else _CLIENT_CLOSES.get(code or 0, 500)
    report.record(route, status)
    assert status < 500, f"{route} closed with code {code} after {str(sent)[:300]}"
