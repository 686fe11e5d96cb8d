"""Every webhook and the agent console, served on loopback from a thread, for the fuzz tests.

Hypothesis drives plain synchronous tests, so the servers run in a thread of
their own with their own event loop: one bare Sanic app with every customer
channel mounted as ``rasa run`` mounts them (the web widget, WhatsApp, Telegram,
the loopback callback channel and Rasa's REST channel, with a stand-in for the
bot), and the handoff service built by ``create_app(settings)``, both on the
session's real redis-server.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import uuid
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Awaitable, Callable, Coroutine, Dict, List, Optional, TypeVar

from sanic import Sanic

from connectors.base import KesherInputChannel
from connectors.callback import CallbackChannel
from connectors.rest import KesherRestChannel
from connectors.runtime import ChannelRuntime
from connectors.telegram import TelegramChannel
from connectors.web import WebChannel
from connectors.whatsapp import WhatsAppChannel
from console.app import create_app
from core.processes import free_port
from core.settings import PROJECT_ROOT, Settings
from handoff.agents import hash_password
from kesher.add_agent import upsert_agent
from tests.helpers import fake_telegram, fake_twilio
from tests.helpers.channels import FAST_DELIVERY, EchoBot
from tests.helpers.sanic_server import serving
from wiring.container import Container

T = TypeVar("T")

WEB_SECRET = "fuzz-web-secret"
TELEGRAM_SECRET = "fuzz-telegram-secret"
CALLBACK_SECRET = "fuzz-callback-secret"
REST_TOKEN = "fuzz-rest-token"
AGENT = "fuzzer"
PASSWORD = "fuzz-password-0123"


@dataclass
class FuzzServers:
    """The two served apps: ``channels`` (``.../webhooks/<name>/...``) and ``console`` (``/console/...``)."""

    settings: Settings
    channels_url: str = ""
    console_url: str = ""
    web: Optional[WebChannel] = None
    bot: EchoBot = field(default_factory=EchoBot)
    _loop: Optional[asyncio.AbstractEventLoop] = None
    _thread: Optional[threading.Thread] = None
    _stop: Optional[asyncio.Event] = None
    _errors: List[BaseException] = field(default_factory=list)

    def run(self, coro: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Runs a coroutine on the servers' loop (their Redis clients live there) and returns its result."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def start(self) -> None:
        """Starts both apps in a thread; returns once they answer."""
        ready: Future[None] = Future()
        self._thread = threading.Thread(target=self._main, args=(ready,), name="fuzz-servers", daemon=True)
        self._thread.start()
        ready.result(timeout=60)

    def stop(self) -> None:
        """Stops both apps and the thread."""
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _main(self, ready: Future[None]) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as exc:  # reported to start() if it happens before the servers are up
            self._errors.append(exc)
            if not ready.done():
                ready.set_exception(exc)

    async def _serve(self, ready: Future[None]) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        async with serving(self._channels_app()) as channels, serving(self._console_app()) as console:
            self.channels_url, self.console_url = channels, console
            ready.set_result(None)
            await self._stop.wait()

    def _channels_app(self) -> Sanic:
        rt = ChannelRuntime(Container(self.settings), delivery=FAST_DELIVERY)
        self.web = WebChannel(WEB_SECRET, rt=rt)
        channels: List[KesherInputChannel] = [
            self.web,
            WhatsAppChannel(fake_twilio.DEFAULT_ACCOUNT_SID, fake_twilio.DEFAULT_AUTH_TOKEN, fake_twilio.WHATSAPP_FROM,
                            api_base="http://127.0.0.1:9", rt=rt),
            TelegramChannel(fake_telegram.DEFAULT_TOKEN, TELEGRAM_SECRET, api_base="http://127.0.0.1:9", rt=rt),
            CallbackChannel("http://127.0.0.1:9/replies", secret=CALLBACK_SECRET, rt=rt),
            KesherRestChannel(REST_TOKEN, rt=rt),
        ]
        app = Sanic(f"fuzz-channels-{uuid.uuid4().hex[:8]}")
        on_new_message: Callable[[Any], Awaitable[Any]] = self.bot
        for channel in channels:
            app.blueprint(channel.blueprint(on_new_message), url_prefix=f"/webhooks/{channel.name()}")
        return app

    def _console_app(self) -> Sanic:
        return create_app(self.settings, name=f"fuzz-console-{uuid.uuid4().hex[:8]}", auto_assign=False)


def fuzz_settings(folder: Path, redis_port: int) -> Settings:
    """Settings on the session's Redis, with an agents file holding the fuzzing supervisor and a content copy."""
    agents_file = folder / "agents.yml"
    shutil.copy(PROJECT_ROOT / "handoff" / "agents.yml", agents_file)
    upsert_agent(agents_file, AGENT, hash_password(PASSWORD), name="Fuzz Supervisor", languages=["he", "en"],
                 role="supervisor")
    content = folder / "content"
    for name in ("domain", "data"):
        shutil.copytree(PROJECT_ROOT / name, content / name)
    shutil.copy(PROJECT_ROOT / "config.yml", content / "config.yml")
    # Rate limits off: hundreds of inputs from one address in seconds would otherwise all get 429, and the
    # fuzz would stop reaching the handlers (tests/edge/test_limits.py and the channels' tests cover the limits).
    no_limits: Dict[str, Any] = {name: "0/60" for name in ("limit_sessions_per_source", "limit_messages_per_source",
                                           "limit_messages_per_sender", "limit_handoffs_per_conversation",
                                           "limit_unsubscribe_per_source")}
    settings = Settings(var_dir=folder / "var", agents_file=agents_file, content_dir=content, manual_assign=True,
                        web_secret=WEB_SECRET, **no_limits)
    return settings.with_ports(redis=redis_port, rasa=free_port(), actions=free_port(), smtp=free_port())
