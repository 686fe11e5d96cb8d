"""The customer panel's actions on orders: cancel, change the address, issue store credit (#17).

``GET /console/api/chats/<cid>/order-actions`` lists the conversation's verified
customer's orders, each with the actions the store's rules allow now (and, for
the others, why not). ``POST`` the same path with ``{"action", "order_id",
"address" | "amount", "confirm"}``: without ``confirm`` it only says what would
happen (the console's confirmation step); with ``"confirm": true`` it does it.
Both answer only the agent holding the conversation or a supervisor (403
otherwise), a POST needs the session's CSRF token (the middleware), malformed
input gets a 4xx with the reason. The work is ``wiring.container``'s
:class:`actions.orders.agent_service.AgentOrderActions`; the script is
``static/actions.js``. ``setup_order_actions(app)`` adds the routes.
"""

from __future__ import annotations

from typing import Any, Dict, Optional

from sanic import Blueprint, Request, Sanic
from sanic.response import HTTPResponse, json

from actions.orders.agent_service import MAX_ADDRESS_CHARS, ActionRequest, AgentOrderActions, Said, parse_amount
from console.auth import DESK_ROLES, current_agent, require_role
from console.context import state
from console.middleware import load_session, security_headers
from console.routes import json_body, load_conversation
from console.web import say, with_names
from core.errors import InvalidInput
from edge.requests import text_field
from handoff.agent_actions import AgentActionKind

__all__ = ["bp", "setup_order_actions"]

DONE = {  # what the console says once an action is done
    AgentActionKind.CANCEL_ORDER: "console_order_action_done_cancel_order",
    AgentActionKind.CHANGE_ADDRESS: "console_order_action_done_change_address",
    AgentActionKind.STORE_CREDIT: "console_order_action_done_store_credit",
}

bp = Blueprint("console_order_actions", url_prefix="/console/api/chats", strict_slashes=False)
bp.on_request(load_session)
bp.on_response(security_headers)


def _service(request: Request) -> AgentOrderActions:
    return state(request).container.order_actions


def _said(request: Request, said: Optional[Said]) -> Optional[str]:
    return None if said is None else say(request, said.key, **with_names(request, said.values))


def _action_request(request: Request, body: Dict[str, Any]) -> ActionRequest:
    """The action the body asks for.

    Raises:
        InvalidInput: An unknown action, a missing order, address or amount.
    """
    try:
        kind = AgentActionKind(text_field(body, "action", limit=32))
    except ValueError:
        raise InvalidInput(say(request, "console_order_action_error_unknown")) from None
    order_id = text_field(body, "order_id", limit=20)
    if kind is AgentActionKind.CHANGE_ADDRESS:
        address = text_field(body, "address", required=False, limit=MAX_ADDRESS_CHARS)
        return ActionRequest(kind, order_id, address=address)
    if kind is AgentActionKind.STORE_CREDIT:
        amount = body.get("amount")
        if isinstance(amount, bool) or not isinstance(amount, (str, int, float)):
            raise InvalidInput(say(request, "console_order_action_error_amount"))
        return ActionRequest(kind, order_id, amount=parse_amount(amount))
    return ActionRequest(kind, order_id)


@bp.get("/<cid>/order-actions")
@require_role(*DESK_ROLES)
async def api_order_actions(request: Request, cid: str) -> HTTPResponse:
    """The customer's orders and, for each, which actions the rules allow now (``null``) or why not (a text)."""
    conv = await load_conversation(request, cid)
    orders = await _service(request).options(conv.cid, current_agent(request))
    for order in orders:
        order["actions"] = {kind: _said(request, refusal) for kind, refusal in order["actions"].items()}
    return json({"orders": orders})


@bp.post("/<cid>/order-actions")
@require_role(*DESK_ROLES)
async def api_order_action(request: Request, cid: str) -> HTTPResponse:
    """Says what an action would do (``confirm`` false), or does it (``confirm`` true).

    Raises:
        InvalidInput: A malformed body.
        core.errors.NotAllowed: Neither the agent holding the chat nor a supervisor.
        core.errors.NotFound: Not an order of this customer's.
        core.errors.Conflict: The store's rules refuse it.
    """
    body = json_body(request)
    confirm = body.get("confirm", False)
    if not isinstance(confirm, bool):
        raise InvalidInput("'confirm' must be true or false")
    action = _action_request(request, body)
    conv = await load_conversation(request, cid)
    service = _service(request)
    agent = current_agent(request)
    if not confirm:
        preview = await service.preview(conv.cid, agent, action)
        return json({"preview": _said(request, preview)})
    record = await service.perform(conv.cid, agent, action)
    done = say(request, DONE[record.kind], order=record.order_id,
               amount=record.amount, currency=record.currency, code=record.code)
    return json({"done": done, "action": record.to_json()}, status=201)


def setup_order_actions(app: Sanic) -> None:
    """Adds the order-action routes to the handoff service."""
    app.blueprint(bp)
