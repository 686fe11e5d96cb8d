"""Kesher's one error hierarchy: what went wrong, in the domain's words.

The domain (handoff, channels' parsing, actions' backends) raises these; the
web edge (``edge/errors.py``) maps each to an HTTP status in one place. The
message is meant for the caller: it says what to fix, never a stack trace.
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "Failed",
    "InvalidInput",
    "KesherError",
    "NotAllowed",
    "NotAuthenticated",
    "NotFound",
    "TooLarge",
    "Unavailable",
]


class KesherError(Exception):
    """Base of every error Kesher raises on purpose."""


class InvalidInput(KesherError):
    """Malformed or missing input."""


class TooLarge(KesherError):
    """A body, message or field over its limit."""


class NotAuthenticated(KesherError):
    """No credentials, or ones that prove nothing (not logged in)."""


class NotAllowed(KesherError):
    """Known but not allowed: a forged signature, a wrong role, a bad CSRF token, not the owner."""


class NotFound(KesherError):
    """No such conversation, agent, order or page."""


class Conflict(KesherError):
    """The state changed meanwhile (taken by someone else, already closed)."""


class Unavailable(KesherError):
    """A service Kesher needs (Redis, Rasa, SMTP) cannot be reached now; try again."""


class Failed(KesherError):
    """Kesher accepted the input but could not process it (e.g. the bot raised)."""
