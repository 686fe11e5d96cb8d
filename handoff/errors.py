"""The handoff service's errors, each mapped to one HTTP status in one place."""

from __future__ import annotations

from sanic.exceptions import SanicException

__all__ = [
    "BadRequest",
    "Conflict",
    "Forbidden",
    "HandoffError",
    "NotFound",
    "PayloadTooLarge",
    "Unauthorized",
]


class HandoffError(SanicException):
    """Base of every error the service answers with; the message is shown to the caller."""

    status_code = 400
    quiet = True


class BadRequest(HandoffError):
    """Malformed or missing input."""

    status_code = 400


class Unauthorized(HandoffError):
    """Not logged in."""

    status_code = 401


class Forbidden(HandoffError):
    """Logged in but not allowed (wrong role, bad CSRF token, not the owner)."""

    status_code = 403


class NotFound(HandoffError):
    """No such conversation, agent or page."""

    status_code = 404


class Conflict(HandoffError):
    """The conversation changed meanwhile (taken by someone else, already closed)."""

    status_code = 409


class PayloadTooLarge(HandoffError):
    """A request body or message over the limit."""

    status_code = 413
