"""The action server: every custom action, built with the process's backends, behind rasa_sdk's protocol.

``rasa run actions`` would build each action with no arguments; Kesher's
actions get their backends through the constructor instead, so this module
registers ready-made instances with rasa_sdk's :class:`ActionExecutor` and
serves the same routes (``GET /health``, ``GET /actions``, ``POST /webhook``).
``python -m kesher serve actions`` runs it with the composition root's backends,
on loopback by default (``ACTIONS_HOST``).

Every call but ``/health`` and ``/metrics`` (Prometheus: counts per action, no customer data)
must carry the shared token (``KESHER_ACTIONS_TOKEN``)
as ``Authorization: Bearer <token>``, which Rasa sends from ``endpoints.yml``;
without it the answer is 401, with a wrong one 403, each with the reason. The
token is compared in constant time.
"""

from __future__ import annotations

import logging
import time
import zlib
from typing import Any, Dict, List, Optional, Sequence, Type

from prometheus_client import Counter, Histogram
from rasa_sdk import Action
from rasa_sdk.executor import ActionExecutor
from rasa_sdk.interfaces import ActionExecutionRejection, ActionNotFoundException
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.response import json as json_response

from actions.backends import Backends
from actions.base import UsesBackends
from actions.callback import (
    ActionAnswerRejected,
    ActionAskCallbackPhone,
    ActionAskCallbackTime,
    ActionCallbackRequest,
    ValidateCallbackForm,
)
from actions.csat import ActionAskCsat, ActionCsatAnswer
from actions.fallback import ActionFallback
from actions.handoff import ActionDeclineHuman, ActionHandoff
from actions.knowledge import ActionAnswerFromKnowledgeBase
from actions.order_form import (
    ActionAskCancelConfirmed,
    ActionAskContact,
    ActionAskNewAddress,
    ActionAskOrderId,
    ActionAskReturnReason,
    ValidateOrderForm,
)
from actions.order_task import ActionOrderTask
from actions.out_of_scope import ActionOutOfScope
from core.errors import InvalidInput, KesherError, NotAllowed, NotAuthenticated
from edge.errors import SafeErrorHandler, error_response
from edge.metrics import setup_metrics
from edge.requests import parse_json_object, same_secret

__all__ = ["ACTIONS", "ACTION_CALLS", "ACTION_ERRORS", "ACTION_SECONDS", "OPEN_PATHS", "build_actions", "check_token",
           "create_app"]

log = logging.getLogger(__name__)

# A tracker with a long conversation is large; Rasa sends it whole with every call.
MAX_ACTION_CALL_BYTES = 32 * 1024 * 1024

# Every custom action the domain names; the content check and a test keep the two in step.
ACTIONS: Sequence[Type[Action]] = (
    ActionAnswerFromKnowledgeBase,
    ActionAnswerRejected,
    ActionAskCallbackPhone,
    ActionAskCallbackTime,
    ActionCallbackRequest,
    ActionAskCancelConfirmed,
    ActionAskCsat,
    ActionAskContact,
    ActionAskNewAddress,
    ActionAskOrderId,
    ActionAskReturnReason,
    ActionCsatAnswer,
    ActionDeclineHuman,
    ActionFallback,
    ActionHandoff,
    ActionOrderTask,
    ActionOutOfScope,
    ValidateCallbackForm,
    ValidateOrderForm,
)


# The routes a caller without the token may reach: the supervisor's readiness probe, and Prometheus (the
# counts below hold no customer data; the server listens on loopback and the front door never passes it).
OPEN_PATHS = frozenset({"/health", "/metrics"})

ACTION_CALLS = Counter("kesher_action_calls", "Calls of a custom action, by action.", ["action"])
ACTION_SECONDS = Histogram("kesher_action_seconds", "Seconds a custom action took, by action.", ["action"],
                           buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0))
ACTION_ERRORS = Counter("kesher_action_errors", "Action calls that did not succeed, by action and kind: rejected "
                        "(a form's validation refused, rasa_sdk's protocol), not_found, failed (raised).",
                        ["action", "kind"])
_BEARER = "bearer "


def build_actions(backends: Backends) -> List[Action]:
    """One instance of every action, each given ``backends`` if it uses them."""
    return [cls(backends) if issubclass(cls, UsesBackends) else cls() for cls in ACTIONS]


def _action_call(request: Request) -> Dict[str, Any]:
    """The request's action call (Rasa may deflate it).

    Raises:
        InvalidInput: Not a JSON object.
    """
    raw = request.body or b""
    if request.headers.get("Content-Encoding") == "deflate":
        try:
            raw = zlib.decompress(raw)
        except zlib.error as exc:
            raise InvalidInput("the body must be an action call (deflated JSON)") from exc
    return parse_json_object(raw, "an action call", max_bytes=MAX_ACTION_CALL_BYTES)


def check_token(authorization: Optional[str], token: str) -> None:
    """Accepts only ``Bearer <token>``, compared in constant time.

    Args:
        authorization: The request's ``Authorization`` header (None: absent).
        token: The shared token (``KESHER_ACTIONS_TOKEN``).

    Raises:
        NotAuthenticated: No bearer token was sent.
        NotAllowed: The token sent is not the shared one.
    """
    if not authorization or authorization[: len(_BEARER)].lower() != _BEARER:
        raise NotAuthenticated("the action server needs `Authorization: Bearer <KESHER_ACTIONS_TOKEN>` "
                               "(endpoints.yml action_endpoint headers)")
    if not same_secret(authorization[len(_BEARER):].strip(), token):
        raise NotAllowed("wrong action server token: Rasa and the action server must share KESHER_ACTIONS_TOKEN")


def create_app(backends: Backends, token: str, name: str = "kesher-actions") -> Sanic:
    """The action server's Sanic app.

    Args:
        backends: What the actions talk to.
        token: The token every call but ``/health`` must bear (``KESHER_ACTIONS_TOKEN``).
        name: Sanic app name (tests that build several apps pass their own).

    Raises:
        ValueError: ``token`` is empty (an empty token would let anyone in).
    """
    if not token:
        raise ValueError("the action server needs a token (KESHER_ACTIONS_TOKEN)")
    executor = ActionExecutor()
    for action in build_actions(backends):
        executor.register_action(action)
    app = Sanic(name, configure_logging=False, error_handler=SafeErrorHandler())

    @app.on_request
    async def authenticate(request: Request) -> Optional[HTTPResponse]:
        if request.path in OPEN_PATHS:
            return None
        try:
            check_token(request.headers.get("Authorization"), token)
        except KesherError as exc:
            log.warning("refused an action server call to %s: %s", request.path, exc)
            return error_response(exc)
        return None

    @app.get("/health")
    async def health(request: Request) -> HTTPResponse:
        return json_response({"status": "ok"})

    setup_metrics(app)

    @app.get("/actions")
    async def actions(request: Request) -> HTTPResponse:
        return json_response([{"name": name} for name in sorted(executor.actions)])

    @app.post("/webhook")
    async def webhook(request: Request) -> HTTPResponse:
        try:
            action_call = _action_call(request)
        except KesherError as exc:
            return error_response(exc)
        name = action_call.get("next_action")
        action = name if isinstance(name, str) and name in executor.actions else "unknown"
        ACTION_CALLS.labels(action).inc()
        started = time.perf_counter()
        try:
            result = await executor.run(action_call)
        except ActionExecutionRejection as exc:
            ACTION_ERRORS.labels(action, "rejected").inc()
            # rasa_sdk's protocol: Rasa reads `action_name` from a 400 to know which action refused.
            return json_response({"error": exc.message, "action_name": exc.action_name}, status=400)
        except ActionNotFoundException as exc:
            ACTION_ERRORS.labels(action, "not_found").inc()
            return json_response({"error": exc.message, "action_name": exc.action_name}, status=404)
        except Exception:
            ACTION_ERRORS.labels(action, "failed").inc()
            raise
        finally:
            ACTION_SECONDS.labels(action).observe(time.perf_counter() - started)
        return json_response(result)

    return app
