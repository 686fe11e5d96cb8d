"""The customer channels' names: in conversation ids, routes, the outbound stream and the event log.

One list for every layer: each channel of ``connectors/`` answers its name from here, and the
dashboard's channel filter offers these names (an event's ``channel`` is the name of the channel the
message came through, so a filter on anything else would never match).
"""

from __future__ import annotations

__all__ = ["CALLBACK", "CHANNELS", "REST", "TELEGRAM", "WEB", "WHATSAPP"]

WEB = "web"
"""The website widget (``connectors/web.py``)."""
WHATSAPP = "whatsapp"
"""WhatsApp through Twilio (``connectors/whatsapp.py``)."""
TELEGRAM = "telegram"
"""Telegram (``connectors/telegram.py``)."""
REST = "kesher_rest"
"""Kesher's token-protected REST channel for scripts and benchmarks (``connectors/rest.py``)."""
CALLBACK = "kesher_callback"
"""The loopback channel that POSTs replies to a URL (``connectors/callback.py``)."""

CHANNELS = (WEB, WHATSAPP, TELEGRAM, REST, CALLBACK)
"""Every customer channel, in the order the dashboard lists them."""
