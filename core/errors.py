"""Kesher's one error hierarchy: what went wrong, in the domain's words.

The domain (handoff, channels' parsing, actions' backends) raises these; the
web edge (``edge/errors.py``) maps each to an HTTP status in one place. The
message is meant for the caller: it says what to fix, never a stack trace. An
error a person may read can also name its text in the catalog (``text=`` and
its values), which an edge that knows the reader's language shows instead.
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "Conflict",
    "Failed",
    "InvalidInput",
    "KesherError",
    "NotAllowed",
    "NotAuthenticated",
    "NotFound",
    "TimedOut",
    "TooLarge",
    "TooManyRequests",
    "Unavailable",
]


class KesherError(Exception):
    """Base of every error Kesher raises on purpose."""

    def __init__(self, message: str = "", *, text: str = "", **values: Any) -> None:
        """Keeps the message, and the catalog text that says it in the reader's language.

        Args:
            message: What went wrong and what to do, in English (logs, API callers).
            text: The key of the catalog text for the same thing ("" for none).
            **values: That text's arguments.
        """
        super().__init__(message)
        self.text = text
        self.values = values


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


class TimedOut(KesherError):
    """The other side did not say what was expected in time (e.g. a widget that never says hello)."""


class Unavailable(KesherError):
    """A service Kesher needs (Redis, Rasa, SMTP) cannot be reached now; try again."""


class Failed(KesherError):
    """Kesher accepted the input but could not process it (e.g. the bot raised)."""


class TooManyRequests(KesherError):
    """Over a rate limit (too many messages, sessions or requests from one source); try again later."""

    def __init__(self, message: str = "", *, retry_after: int = 1, text: str = "", **values: Any) -> None:
        """Keeps the message and when to try again.

        Args:
            message: What was limited, in English.
            retry_after: Seconds until the limit allows the next request (at least 1).
            text: The key of the catalog text for the same thing ("" for none).
            **values: That text's arguments.
        """
        super().__init__(message, text=text, **values)
        self.retry_after = max(1, int(retry_after))
