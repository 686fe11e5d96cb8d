"""The one place where Kesher's errors become HTTP statuses.

The domain raises :mod:`core.errors`; every Sanic app of Kesher (the channels,
the handoff service, the action server) answers them with :func:`error_response`:
a JSON body ``{"error": <what to fix>, "status": <code>}`` and the status below.
"""

from __future__ import annotations

from typing import Any, Callable, Dict, Optional, Tuple, Type

from sanic import Sanic
from sanic.exceptions import SanicException
from sanic.handlers import ErrorHandler
from sanic.headers import parse_accept
from sanic.request import Request
from sanic.response import HTTPResponse, json

from core.errors import (
    Conflict,
    Failed,
    InvalidInput,
    KesherError,
    NotAllowed,
    NotAuthenticated,
    NotFound,
    TimedOut,
    TooLarge,
    TooManyRequests,
    Unavailable,
)

__all__ = ["STATUSES", "Localize", "SafeErrorHandler", "error_frame", "error_response", "setup_errors", "status_of"]

STATUSES: Tuple[Tuple[Type[KesherError], int], ...] = (
    (InvalidInput, 400),
    (NotAuthenticated, 401),
    (NotAllowed, 403),
    (NotFound, 404),
    (TimedOut, 408),
    (Conflict, 409),
    (TooLarge, 413),
    (TooManyRequests, 429),
    (Failed, 500),
    (Unavailable, 503),
)


def status_of(exc: KesherError) -> int:
    """The HTTP status of an error (400 for a kind not listed)."""
    return next((status for kind, status in STATUSES if isinstance(exc, kind)), 400)


def error_response(exc: KesherError, message: Optional[str] = None) -> HTTPResponse:
    """The JSON answer to an error: what to fix (``message``, else the error's own), and the status."""
    status = status_of(exc)
    response = json({"error": message or str(exc), "status": status}, status=status)
    if isinstance(exc, TooManyRequests):
        response.headers["retry-after"] = str(exc.retry_after)
    return response


def error_frame(exc: KesherError) -> Dict[str, Any]:
    """The same answer as a websocket frame: ``{"type": "error", "status", "error"}`` (+ ``retry_after``)."""
    frame: Dict[str, Any] = {"type": "error", "status": status_of(exc), "error": str(exc)}
    if isinstance(exc, TooManyRequests):
        frame["retry_after"] = exc.retry_after
    return frame


Localize = Callable[[Request, KesherError], Optional[str]]


def setup_errors(app: Sanic, localize: Optional[Localize] = None) -> None:
    """Answers every :class:`KesherError` a handler raises with :func:`error_response`.

    Args:
        app: The Sanic app.
        localize: Says an error in the reader's language where the app knows it (None: the error's message).
    """

    @app.exception(KesherError)
    async def _kesher_error(request: Request, exc: KesherError) -> HTTPResponse:
        return error_response(exc, localize(request, exc) if localize is not None else None)


class SafeErrorHandler(ErrorHandler):
    """Sanic's error pages, also for a request whose ``Accept`` header cannot be parsed.

    Sanic chooses the error page's format from ``Accept``; an unparsable one
    (``Accept: 0``) made that choice raise, and any 4xx became a 500 "An error
    occurred while handling an error". Such a request is answered as if it
    accepted anything.
    """

    def default(self, request: Request, exception: BaseException) -> HTTPResponse:
        """Sanic's answer to ``exception``, with an unparsable ``Accept`` read as ``*/*``."""
        if request is not None:
            try:
                request.accept  # noqa: B018 - parsing it is the point
            except SanicException:
                request.parsed_accept = parse_accept("*/*")
        return super().default(request, exception)
