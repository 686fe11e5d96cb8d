"""How Kesher's own clients prove themselves to Rasa's HTTP API: a short-lived signed JWT in a header.

``rasa run`` is started with ``RASA_API_TOKEN`` as its JWT secret (``kesher/rasa_server.py``
passes it in Python, never on the command line), and without a plain ``--auth-token``:
a ``?token=`` in a URL opens nothing, so no secret ends up in an access log or a proxy's
log. A client sends ``Authorization: Bearer <JWT>``, signed HS256 with the same secret;
Rasa's ``requires_auth`` lets an ``admin`` role reach every conversation.
"""

from __future__ import annotations

import time
from typing import Dict

import jwt

__all__ = ["JWT_METHOD", "TOKEN_SECONDS", "api_headers", "api_token"]

JWT_METHOD = "HS256"
# Long enough for one request or a readiness poll; short enough to be useless if it leaks.
TOKEN_SECONDS = 300


def api_token(secret: str, *, username: str = "kesher", seconds: int = TOKEN_SECONDS) -> str:
    """A JWT that Rasa accepts as an administrator for ``seconds``.

    Args:
        secret: ``RASA_API_TOKEN`` (Rasa's ``jwt_secret``).
        username: Who is calling (Rasa logs nothing of it; it helps reading a token).
        seconds: Lifetime of the token.
    """
    now = int(time.time())
    payload = {"user": {"username": username, "role": "admin"}, "iat": now, "exp": now + seconds}
    return jwt.encode(payload, secret, algorithm=JWT_METHOD)


def api_headers(secret: str, *, username: str = "kesher") -> Dict[str, str]:
    """The ``Authorization`` header for one call to Rasa's HTTP API (see :func:`api_token`)."""
    return {"Authorization": f"Bearer {api_token(secret, username=username)}"}
