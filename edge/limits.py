"""The client address a rate limit counts, as Sanic sees it behind the front door.

The limits themselves live in :mod:`handoff.limits` (the desk uses them too); this
module re-exports them for the channels.
"""

from __future__ import annotations

from sanic.request import Request

from handoff.limits import Check, Limit, RateLimiter

__all__ = ["Check", "Limit", "RateLimiter", "client_address"]


def client_address(request: Request) -> str:
    """The client's address: the first proxy's view (``SANIC_PROXIES_COUNT``), else the peer's."""
    return str(request.remote_addr or request.ip or "")
