"""Building rasa_sdk trackers the way Rasa sends them to the action server."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml
from rasa_sdk import Tracker

ROOT = Path(__file__).resolve().parents[2]


def load_domain() -> Dict[str, Any]:
    """The project's domain as one dict (domain/*.yml merged), as rasa_sdk receives it."""
    merged: Dict[str, Any] = {"intents": [], "entities": [], "slots": {}, "forms": {}, "responses": {}, "actions": []}
    for path in sorted((ROOT / "domain").glob("*.yml")):
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key, value in data.items():
            if isinstance(value, dict):
                merged.setdefault(key, {}).update(value)
            elif isinstance(value, list):
                merged.setdefault(key, []).extend(value)
    return merged


def default_slots(domain: Dict[str, Any]) -> Dict[str, Any]:
    """Every slot at its initial value."""
    return {name: spec.get("initial_value") for name, spec in domain["slots"].items()}


def user_event(text: str, intent: str, confidence: float = 0.95, channel: str = "kesher_callback") -> Dict[str, Any]:
    """A `user` event as it appears in the tracker's event list (on a live-chat channel by default)."""
    return {
        "event": "user",
        "text": text,
        "input_channel": channel,
        "parse_data": {"intent": {"name": intent, "confidence": confidence}, "entities": [], "text": text},
    }


def make_tracker(
    domain: Dict[str, Any],
    text: str = "",
    intent: Optional[str] = None,
    slots: Optional[Dict[str, Any]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[str] = None,
    sender_id: str = "test-customer",
    entities: Optional[List[Dict[str, Any]]] = None,
    parse_data: Optional[Dict[str, Any]] = None,
) -> Tracker:
    """A tracker whose latest message is ``text`` with ``intent`` (and ``parse_data``'s other keys)."""
    all_slots = default_slots(domain)
    all_slots.update(slots or {})
    latest = {
        "text": text,
        "intent": {"name": intent, "confidence": 0.95} if intent else {},
        "entities": entities or [],
        **(parse_data or {}),
    }
    history = list(events or [])
    if text or intent:
        history.append(user_event(text, intent or "", 0.95))
    return Tracker.from_dict(
        {
            "sender_id": sender_id,
            "slots": all_slots,
            "latest_message": latest,
            "events": history,
            "paused": False,
            "followup_action": None,
            "active_loop": {"name": active_loop} if active_loop else {},
            "latest_action_name": "action_listen",
        }
    )
