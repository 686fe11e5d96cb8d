"""Each channel served over real HTTP on the session's redis-server, with its customer and fake provider."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, AsyncIterator, Tuple

import pytest
import pytest_asyncio
from redis.asyncio import Redis

from connectors.telegram import TelegramChannel
from connectors.web import WebChannel
from core.settings import Settings
from tests.helpers import fake_telegram
from tests.helpers.channels import (
    ChannelApp,
    TelegramCustomer,
    WebCustomer,
    WhatsAppCustomer,
    serving_channel,
    whatsapp_on,
)
from tests.helpers.fake_telegram import FakeTelegram
from tests.helpers.fake_twilio import FakeTwilio
from tests.helpers.redis_server import RedisServer

TELEGRAM_SECRET = "test-telegram-secret"
WEB_SECRET = "test-web-secret"


@pytest.fixture()
def channel_settings(redis_server: RedisServer, tmp_path: Path) -> Settings:
    return Settings(var_dir=tmp_path).with_ports(redis=redis_server.port, rasa=1, actions=1)


@pytest_asyncio.fixture()
async def whatsapp(channel_settings: Settings, twilio: FakeTwilio, redis_client: Redis,
                   ) -> AsyncIterator[Tuple[ChannelApp, WhatsAppCustomer]]:
    twilio.clear()

    async with serving_channel(whatsapp_on(twilio), channel_settings) as app:
        customer = WhatsAppCustomer(app.base, twilio)
        # The customer wrote just now: WhatsApp's 24-hour window is open (a test outside it deletes this).
        await redis_client.set(app.rt.keys.whatsapp_window(customer.address), repr(time.time()), ex=24 * 3600)
        yield app, customer


@pytest_asyncio.fixture()
async def telegram_channel(channel_settings: Settings, telegram: FakeTelegram, redis_client: Redis,
                           ) -> AsyncIterator[Tuple[ChannelApp, TelegramCustomer]]:
    telegram.clear()

    def make(rt: Any) -> TelegramChannel:
        return TelegramChannel(fake_telegram.DEFAULT_TOKEN, TELEGRAM_SECRET, api_base=telegram.base_url, rt=rt)

    async with serving_channel(make, channel_settings) as app:
        yield app, TelegramCustomer(app.base, telegram, secret=TELEGRAM_SECRET)


@pytest_asyncio.fixture()
async def web(channel_settings: Settings, redis_client: Redis) -> AsyncIterator[Tuple[ChannelApp, WebCustomer]]:
    async with serving_channel(lambda rt: WebChannel(WEB_SECRET, rt=rt), channel_settings) as app:
        customer = WebCustomer(app.base)
        yield app, customer
        await customer.close()


@pytest.fixture(params=["web", "whatsapp", "telegram"])
def any_channel(request: pytest.FixtureRequest) -> Any:
    """Each channel in turn with its customer (a web customer still has to ``open()``)."""
    return request.getfixturevalue({"web": "web", "whatsapp": "whatsapp",
                                    "telegram": "telegram_channel"}[request.param])
