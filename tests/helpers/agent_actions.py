"""A handoff whose verified customer has orders, in a real container (Redis + seeded SQLite), for #17's tests.

The customer has one order that has not shipped and one that has; another
customer's unshipped order stands for "someone else's". ``omer`` (an agent)
holds the chat; ``dana`` is a supervisor and ``sarah`` another agent.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from typing import Dict, List

from actions.orders.domain import Order
from actions.orders.repository import SqlOrderRepository
from actions.orders.seed import seed_database
from core.service_events import ServiceEvent
from handoff.models import Agent, HandoffRequest
from tests.helpers.backends import TODAY
from wiring.container import Container

REFERENCE = "K-ACT001"


@dataclass
class OrdersChat:
    """The chat and the orders a test acts on."""

    container: Container
    cid: str
    processing: Order  # the customer's order that has not shipped
    shipped: Order  # the same customer's order that has left the warehouse
    stranger: Order  # someone else's order that has not shipped

    def agent(self, agent_id: str) -> Agent:
        """A demo agent of the container's directory."""
        found = self.container.agents.get(agent_id)
        assert found is not None, agent_id
        return found

    async def service_events(self) -> List[ServiceEvent]:
        """Every service event on the container's stream, oldest first."""
        redis, keys = self.container.redis, self.container.keys
        return [ServiceEvent.from_fields(f) for _, f in await redis.xrange(keys.service_events())]


def _emails(repo: SqlOrderRepository) -> List[str]:
    with repo.engine.connect() as conn:
        return [row[0] for row in conn.exec_driver_sql("SELECT DISTINCT email FROM orders ORDER BY email")]


async def customers(repo: SqlOrderRepository) -> Dict[str, List[Order]]:
    """Every seeded customer's orders, by e-mail."""
    return {email: await repo.find_by_contact(email=email) for email in await asyncio.to_thread(_emails, repo)}


async def orders_chat(container: Container, *, language: str = "en", seed: bool = True) -> OrdersChat:
    """Seeds the container's orders database (unless ``seed`` is False) and puts a customer's chat with ``omer``."""
    if seed:
        await asyncio.to_thread(seed_database, container.orders.engine, TODAY)
    by_email = await customers(container.orders)
    email, mine = next((e, o) for e, o in by_email.items()
                       if any(x.status == "processing" for x in o) and any(x.status != "processing" for x in o))
    stranger = next(o for e, found in by_email.items() if e != email for o in found if o.status == "processing")
    processing = next(o for o in mine if o.status == "processing")
    cid = f"web:{uuid.uuid4().hex[:8]}"
    await container.desk.request(HandoffRequest(
        cid=cid, channel="web", language=language, reason="explicit_request", reference=REFERENCE,
        customer_name=processing.customer_name, email=email, verified_order=processing.order_id,
    ))
    omer = container.agents.get("omer")
    assert omer is not None
    await container.desk.set_presence(omer, "online")
    assert (await container.desk.take(cid, omer)).ok
    return OrdersChat(container, cid, processing, next(o for o in mine if o.status != "processing"), stranger)
