"""``python -m kesher order-delay ID DATE`` (#17): an operator's status change, and what its customer is told.

Real Redis, the seeded SQLite orders database and a real SMTP server (aiosmtpd); the whole path from the
command to the customer's chat is in ``tests/connectors/test_notices.py`` (the command as a subprocess).
"""

from __future__ import annotations

import asyncio
import logging
from datetime import date, timedelta
from pathlib import Path
from typing import AsyncIterator

import pytest
import pytest_asyncio
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.orm import Session

from actions.orders.domain import Order
from actions.orders.models import OrderRow
from actions.orders.repository import _order_from_row
from actions.orders.seed import seed_database
from core.processes import free_port
from handoff.identity import conversation_id
from kesher.cli import main, order_delay
from tests.helpers.containers import orders_settings, running_container
from tests.helpers.redis_server import RedisServer
from tests.helpers.smtp import SmtpSink
from wiring.container import Container

TODAY = date.today()
NEW_ESTIMATE = TODAY + timedelta(days=6)


@pytest_asyncio.fixture()
async def service(redis_server: RedisServer, redis_client: Redis, smtp_sink: SmtpSink,
                  tmp_path: Path) -> AsyncIterator[Container]:
    """The handoff service's side: the orders store (seeded for today), the notices, the mail worker."""
    async with running_container(orders_settings(tmp_path, redis_server.port, smtp_sink.port)) as container:
        seed_database(container.orders.engine, TODAY)
        yield container


def _first(container: Container, status: str, language: str = "en") -> Order:
    """The first seeded order with that status and language."""
    with Session(container.orders.engine) as session:
        row = session.scalars(select(OrderRow).where(OrderRow.status == status, OrderRow.language == language)
                              .order_by(OrderRow.order_id)).first()
        assert row is not None, f"the seed has no {status} order in {language}"
        return _order_from_row(row)


async def test_an_unknown_or_closed_order_is_refused_and_nothing_changes(
        service: Container, capsys: pytest.CaptureFixture[str]) -> None:
    assert await asyncio.to_thread(order_delay, service.settings, "999999", NEW_ESTIMATE) == 1
    assert "There is no order 999999." in capsys.readouterr().err
    delivered = _first(service, "delivered")
    assert await asyncio.to_thread(order_delay, service.settings, delivered.order_id, NEW_ESTIMATE) == 1
    assert f"Order {delivered.order_id} is delivered: only an open order" in capsys.readouterr().err
    after = await service.orders.get(delivered.order_id)
    assert after is not None and after.status == "delivered"
    assert not await service.notices.told(delivered.order_id, NEW_ESTIMATE)


def test_a_past_or_malformed_date_is_refused_before_anything_is_touched(capsys: pytest.CaptureFixture[str]) -> None:
    for text, why in (((TODAY - timedelta(days=1)).isoformat(), "is in the past"), ("6.12.2026", "YYYY-MM-DD")):
        with pytest.raises(SystemExit) as refused:
            main(["order-delay", "104233", text])
        assert refused.value.code == 2 and why in capsys.readouterr().err


async def test_a_customer_who_wrote_stop_is_not_told(
        service: Container, smtp_sink: SmtpSink, capsys: pytest.CaptureFixture[str]) -> None:
    order = _first(service, "processing", "he")
    cid = conversation_id("telegram", "5150")
    await service.identity.verified(cid, order.email)
    await service.notices.opt_out(cid, "telegram", "he")
    assert await asyncio.to_thread(order_delay, service.settings, order.order_id, NEW_ESTIMATE) == 0
    assert "asked for no notices" in capsys.readouterr().out
    stored = await service.orders.get(order.order_id)
    assert stored is not None and stored.status == "delayed"
    assert await service.mail_worker().run_once() == 0 and smtp_sink.messages == []


async def test_with_redis_down_the_order_is_delayed_and_the_next_scan_tells_the_customer(
        service: Container, smtp_sink: SmtpSink, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture) -> None:
    order = _first(service, "processing")
    down = service.settings.replace(redis_port=free_port())  # nothing listens there
    with caplog.at_level(logging.WARNING):
        assert await asyncio.to_thread(order_delay, down, order.order_id, NEW_ESTIMATE) == 0
    assert "the handoff service's scan of late orders (every 15 minutes) tells them" in capsys.readouterr().out
    # The operator reads one line on why the customer is not told yet, not a traceback.
    assert [r for r in caplog.records if r.exc_info] == []
    assert any("its customer is not told yet" in r.getMessage() for r in caplog.records)
    stored = await service.orders.get(order.order_id)
    assert stored is not None and stored.status == "delayed" and stored.estimated_delivery == NEW_ESTIMATE
    assert not await service.notices.told(order.order_id, NEW_ESTIMATE)
    assert await service.notice_scanner().scan_once() >= 1  # the scan, once Redis answers
    assert await service.notices.told(order.order_id, NEW_ESTIMATE)
    await service.mail_worker().run_once()
    assert any(m["Subject"] == f"Order {order.order_id} is running late" for m in smtp_sink.messages)
