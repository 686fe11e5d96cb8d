"""Signals to connected customers (typing, messages, status) survive a socket that closed and a failing channel."""

from __future__ import annotations

from typing import Any, Dict, List, Tuple

from redis.asyncio import Redis
from websockets.connection import CLOSED, CLOSING

from connectors.runtime import ChannelRuntime
from core.settings import Settings
from handoff.identity import conversation_id
from handoff.models import OutboundMessage
from tests.helpers.channels import ChannelApp, WebCustomer
from tests.helpers.waiting import until
from wiring.container import Container


async def test_agent_typing_still_reaches_the_widget_after_a_signal_met_a_socket_that_had_just_closed(
        web: Tuple[ChannelApp, WebCustomer], redis_client: Redis) -> None:
    app, customer = web
    await customer.open()
    cid = conversation_id("web", customer.address)
    [closed] = list(app.channel.sockets[cid])
    await customer.close()
    await until(lambda: closed.connection.state in (CLOSING, CLOSED), what="the server to see the close")
    # The widget reconnects (a reload); a signal races the close: the old socket is still the conversation's.
    again = WebCustomer(app.base)
    again.session = customer.session
    await again.open()
    app.channel.sockets[cid].add(closed)
    await until(lambda: _subscribed(redis_client, app.rt), what="the runtime to subscribe to the signals")
    await app.rt.publish({"cid": cid, "kind": "typing", "name": "Dana"})  # Sanic raised WebsocketClosed here
    await app.rt.publish({"cid": cid, "kind": "typing", "name": "Omer"})
    await again.wait(lambda frames: any(f["type"] == "typing" and f.get("name") == "Omer" for f in frames), 10)
    await again.close()


class _Broken:
    """A channel whose signal handling fails."""

    @classmethod
    def name(cls) -> str:
        return "broken"

    async def on_signal(self, signal: Dict[str, Any]) -> None:
        raise RuntimeError("this channel cannot take signals")

    async def deliver(self, message: OutboundMessage) -> None:
        pass

    async def close(self) -> None:
        pass


class _Listening(_Broken):
    """A channel that notes every signal."""

    def __init__(self) -> None:
        self.signals: List[Dict[str, Any]] = []

    @classmethod
    def name(cls) -> str:
        return "listening"

    async def on_signal(self, signal: Dict[str, Any]) -> None:
        self.signals.append(signal)


async def test_one_channel_failing_on_a_signal_leaves_the_others_and_later_signals_flowing(
        channel_settings: Settings, redis_client: Redis) -> None:
    rt = ChannelRuntime(Container(channel_settings))
    listening = _Listening()
    rt.register(_Broken())
    rt.register(listening)
    await rt.start()
    try:
        await until(lambda: _subscribed(redis_client, rt), what="the runtime to subscribe to the signals")
        for cid in ("c1", "c2", "c3"):
            await rt.publish({"cid": cid, "kind": "typing", "name": "Dana"})
        await until(lambda: len(listening.signals) == 3, what="every signal to reach the working channel")
    finally:
        await rt.stop()  # the reader did not die: stopping it raises nothing
    assert [signal["cid"] for signal in listening.signals] == ["c1", "c2", "c3"]


async def _subscribed(redis: Redis, rt: ChannelRuntime) -> bool:
    [(_, subscribers)] = await redis.pubsub_numsub(rt.keys.customer_signals())
    return int(subscribers) > 0
