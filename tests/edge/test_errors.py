"""Kesher's errors become HTTP statuses in one place, the same for every Sanic app."""

from __future__ import annotations

import itertools

import httpx
import pytest
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse

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
    Unavailable,
)
from edge.errors import error_frame, setup_errors
from tests.helpers.sanic_server import serving

_names = itertools.count()

CASES = [
    (InvalidInput("the body must be JSON"), 400),
    (NotAuthenticated("log in first"), 401),
    (NotAllowed("this session was not issued here"), 403),
    (NotFound("no conversation x"), 404),
    (TimedOut("no hello within 15 s"), 408),
    (Conflict("someone else took it"), 409),
    (TooLarge("at most 10000 characters"), 413),
    (Failed("the assistant could not process this message"), 500),
    (Unavailable("temporarily unavailable, please retry"), 503),
]


@pytest.mark.parametrize("error, status", CASES, ids=[type(e).__name__ for e, _ in CASES])
async def test_a_domain_error_raised_in_a_handler_is_answered_with_its_status_and_reason(
    error: KesherError, status: int
) -> None:
    app = Sanic(f"edge-errors-{next(_names)}")
    setup_errors(app)

    @app.get("/")
    async def handler(request: Request) -> HTTPResponse:
        raise error

    async with serving(app) as base, httpx.AsyncClient() as http:
        response = await http.get(base + "/")
    assert response.status_code == status
    assert response.json() == {"error": str(error), "status": status}
    assert error_frame(error) == {"type": "error", "status": status, "error": str(error)}


def test_an_error_of_an_unlisted_kind_is_a_bad_request() -> None:
    class Odd(KesherError):
        pass

    assert error_frame(Odd("odd"))["status"] == 400
