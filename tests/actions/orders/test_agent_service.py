"""Agents acting on orders (#17): the store's rules, permissions and the audit, on real Redis and the SQL store."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.orders.agent_service import ActionRequest, parse_amount
from actions.orders.models import StoreCreditRow
from actions.orders.repository import SqlOrderRepository
from core.errors import Conflict, InvalidInput, NotAllowed, NotFound
from handoff.agent_actions import AgentActionKind
from tests.helpers.agent_actions import REFERENCE, OrdersChat, orders_chat
from tests.helpers.containers import orders_settings, running_container
from tests.helpers.redis_server import RedisServer

CANCEL, ADDRESS, CREDIT = AgentActionKind.CANCEL_ORDER, AgentActionKind.CHANGE_ADDRESS, AgentActionKind.STORE_CREDIT


@pytest_asyncio.fixture()
async def world(redis_server: RedisServer, redis_client: Redis, tmp_path: Path) -> AsyncIterator[OrdersChat]:
    settings = orders_settings(tmp_path, redis_server.port, store_credit_limit=Decimal("80"))
    async with running_container(settings, "act") as container:
        yield await orders_chat(container)


async def test_a_shipped_order_cannot_be_cancelled_or_readdressed_by_an_agent_as_by_the_bot(world: OrdersChat) -> None:
    omer = world.agent("omer")
    service = world.container.order_actions
    assert not world.shipped.can_cancel()  # the bot's rule (action_order_task) refuses it too
    for request in (ActionRequest(CANCEL, world.shipped.order_id),
                    ActionRequest(ADDRESS, world.shipped.order_id, address="Herzl 1, Haifa")):
        with pytest.raises(Conflict) as refused:
            await service.preview(world.cid, omer, request)
        assert refused.value.text in ("console_order_action_error_cannot_cancel",
                                      "console_order_action_error_cannot_change_address")
        with pytest.raises(Conflict):
            await service.perform(world.cid, omer, request)
    after = await world.container.orders.get(world.shipped.order_id)
    assert after is not None and after.status == world.shipped.status
    assert after.shipping_address == world.shipped.shipping_address
    assert await world.container.agent_actions.taken(world.cid, REFERENCE) == []
    assert [e for e in await world.service_events() if e.kind == "agent_action"] == []


async def test_the_holder_cancels_an_unshipped_order_and_it_is_audited(world: OrdersChat) -> None:
    omer = world.agent("omer")
    service = world.container.order_actions
    preview = await service.preview(world.cid, omer, ActionRequest(CANCEL, world.processing.order_id))
    assert preview.key == "console_order_action_preview_cancel_order"
    assert (await world.container.orders.get(world.processing.order_id)).status == "processing"  # type: ignore[union-attr]

    record = await service.perform(world.cid, omer, ActionRequest(CANCEL, world.processing.order_id))
    assert (await world.container.orders.get(world.processing.order_id)).status == "cancelled"  # type: ignore[union-attr]
    assert [r.kind for r in await world.container.agent_actions.taken(world.cid, REFERENCE)] == [CANCEL]
    assert record.agent_id == "omer"
    notes = [e for e in await world.container.store.events(world.cid) if e.kind.value == "note"]
    assert any(world.processing.order_id in n.text and "Omer" in n.text and "cancelled" in n.text for n in notes)
    [action] = [e for e in await world.service_events() if e.kind == "agent_action"]
    assert (action.agent, action.reason, action.topic) == ("omer", "cancel_order", world.processing.order_id)
    # Done once: a second cancellation is refused by the same rule.
    with pytest.raises(Conflict):
        await service.perform(world.cid, omer, ActionRequest(CANCEL, world.processing.order_id))


async def test_address_change_needs_an_address_and_is_stored(world: OrdersChat) -> None:
    omer = world.agent("omer")
    service = world.container.order_actions
    with pytest.raises(InvalidInput):
        await service.preview(world.cid, omer, ActionRequest(ADDRESS, world.processing.order_id, address="   "))
    await service.perform(world.cid, omer, ActionRequest(ADDRESS, world.processing.order_id,
                                                         address="  Herzl 12,\n Haifa  "))
    after = await world.container.orders.get(world.processing.order_id)
    assert after is not None and after.shipping_address == "Herzl 12, Haifa"
    [record] = await world.container.agent_actions.taken(world.cid, REFERENCE)
    assert (record.kind, record.address) == (ADDRESS, "Herzl 12, Haifa")


async def test_store_credit_is_a_real_record_within_the_limit(world: OrdersChat) -> None:
    omer = world.agent("omer")
    service = world.container.order_actions
    order = world.processing
    limit = min(Decimal("80"), order.total)
    record = await service.perform(world.cid, omer, ActionRequest(CREDIT, order.order_id, amount=Decimal("30.50")))
    assert (record.amount, record.currency) == ("30.50", order.currency)
    with Session(world.container.orders.engine) as session:
        [row] = session.scalars(select(StoreCreditRow).where(StoreCreditRow.order_id == order.order_id)).all()
        assert (row.amount, row.currency, row.agent_id, row.code) == (Decimal("30.50"), order.currency, "omer",
                                                                      record.code)
        assert row.issued_at is not None
    assert record.code.startswith("SC-")
    # Over what is left of the limit: refused, saying how much is left.
    with pytest.raises(Conflict) as refused:
        await service.preview(world.cid, omer, ActionRequest(CREDIT, order.order_id, amount=limit))
    assert refused.value.text == "console_order_action_error_credit_over"
    assert refused.value.values["allowance"] == str(limit - Decimal("30.50"))
    [credit] = [e for e in await world.service_events() if e.kind == "agent_action"]
    assert (credit.reason, credit.topic, credit.value) == ("store_credit", order.order_id, 30.5)


async def test_concurrent_credits_never_pass_the_limit(world: OrdersChat) -> None:
    omer, dana = world.agent("omer"), world.agent("dana")
    order = world.processing
    amount = (min(Decimal("80"), order.total) * Decimal("0.6")).quantize(Decimal("0.01"))
    results = await asyncio.gather(*(
        world.container.order_actions.perform(world.cid, who, ActionRequest(CREDIT, order.order_id, amount=amount))
        for who in (omer, dana, omer)
    ), return_exceptions=True)
    assert sum(not isinstance(r, Exception) for r in results) == 1, results
    assert all(isinstance(r, Conflict) for r in results if isinstance(r, Exception)), results
    assert await world.container.orders.credit_issued(order.order_id) == amount


async def test_only_the_holder_or_a_supervisor_may_act(world: OrdersChat) -> None:
    service = world.container.order_actions
    request = ActionRequest(CREDIT, world.processing.order_id, amount=Decimal("5"))
    with pytest.raises(NotAllowed):
        await service.preview(world.cid, world.agent("sarah"), request)
    with pytest.raises(NotAllowed):
        await service.perform(world.cid, world.agent("sarah"), request)
    with pytest.raises(NotAllowed):
        await service.options(world.cid, world.agent("sarah"))
    assert await world.container.orders.credit_issued(world.processing.order_id) == Decimal("0.00")
    record = await service.perform(world.cid, world.agent("dana"), request)  # dana is a supervisor
    assert record.agent_id == "dana"


async def test_only_the_verified_customers_orders(world: OrdersChat) -> None:
    omer = world.agent("omer")
    service = world.container.order_actions
    for order_id in (world.stranger.order_id, "999999", "../../x"):
        with pytest.raises(NotFound):
            await service.perform(world.cid, omer, ActionRequest(CANCEL, order_id))
    stranger = await world.container.orders.get(world.stranger.order_id)
    assert stranger is not None and stranger.status == "processing"
    options = await service.options(world.cid, omer)
    listed = {o["order_id"]: o for o in options}
    assert world.stranger.order_id not in listed
    assert listed[world.processing.order_id]["actions"][CANCEL.value] is None
    assert listed[world.shipped.order_id]["actions"][CANCEL.value].key == "console_order_action_error_cannot_cancel"


async def test_nothing_after_the_chat_is_closed(world: OrdersChat) -> None:
    omer = world.agent("omer")
    await world.container.desk.close(world.cid, omer, "resolved")
    with pytest.raises(NotAllowed):
        await world.container.order_actions.perform(world.cid, omer, ActionRequest(CANCEL, world.processing.order_id))
    with pytest.raises(Conflict):  # a supervisor is told the chat is over
        await world.container.order_actions.perform(world.cid, world.agent("dana"),
                                                    ActionRequest(CANCEL, world.processing.order_id))


@pytest.mark.parametrize("typed", ["0", "-5", "1.234", "abc", "", "NaN", "Infinity", "1e30"])
def test_malformed_amounts_are_refused(typed: str) -> None:
    with pytest.raises(InvalidInput):
        parse_amount(typed)


def test_amounts_as_agents_type_them() -> None:
    assert parse_amount("49,90") == Decimal("49.90")
    assert parse_amount(50) == Decimal("50.00")
    assert json.dumps(str(parse_amount(" 7.5 "))) == '"7.50"'


async def test_an_orders_database_seeded_before_store_credit_gets_its_table(world: OrdersChat) -> None:
    with world.container.orders.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE store_credits")
    fresh = SqlOrderRepository(world.container.orders.engine)  # a new process: it has not made the table yet
    credit = await fresh.issue_credit(world.processing.order_id, Decimal("10"), agent_id="omer",
                                      limit=Decimal("80"), now=datetime(2026, 3, 15, 10, 30))
    assert await fresh.credit_issued(world.processing.order_id) == Decimal("10.00") == credit.amount
