"""WhatsApp and Telegram against a flood: messages over a customer's limit are dropped, and they are told once."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from core.settings import Settings
from handoff.models import OutboundMessage
from tests.helpers.redis_server import RedisServer
from tests.helpers.texts import catalog


@pytest.fixture()
def channel_settings(redis_server: RedisServer, tmp_path: Path) -> Settings:
    """The channels' settings with a small per-sender limit and a per-source one that must not apply."""
    settings = Settings(var_dir=tmp_path).with_ports(redis=redis_server.port, rasa=1, actions=1)
    return settings.replace(limit_messages_per_sender="2/60", limit_messages_per_source="1/60")


@pytest.fixture(params=["whatsapp", "telegram"])
def provider(request: pytest.FixtureRequest) -> Any:
    return request.getfixturevalue({"whatsapp": "whatsapp", "telegram": "telegram_channel"}[request.param])


async def test_a_flooding_customer_is_told_once_and_the_provider_gets_200(provider) -> None:
    app, customer = provider
    responses = [await customer.say(f"message {i}") for i in range(4)]
    # The provider is never refused (it would retry, or hold back every customer's updates).
    assert [r.status_code for r in responses] == [200] * 4
    # A marker after the flood: whatever the flood caused reaches the customer before it.
    cid = await app.rt.identity.resolve(app.channel.name(), customer.address)
    await app.rt.queue_outbound(OutboundMessage(message_id=uuid.uuid4().hex, cid=cid, channel=app.channel.name(),
                                                text="marker", kind="system"))
    replies = await customer.replies(4)
    slow_down = catalog().text("limit_slow_down", "en")
    assert [r.text.split("\n")[0] for r in replies] == ["bot: message 0", "bot: message 1", slow_down, "marker"]
    assert app.bot.texts == ["message 0", "message 1"]
