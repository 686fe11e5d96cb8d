"""What every channel does the same way: answer, deduplicate, and carry a live chat both ways."""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from handoff.identity import conversation_id
from handoff.models import ConversationState, OutboundMessage
from handoff.state import HandoffStore
from tests.console.conftest import Service, english_request, login
from tests.helpers.channels import WebCustomer
from tests.helpers.console import console_socket, next_frame

AGENT_REPLY = "Sorry about that: a replacement ships today."
AGENT_MARKER = "Anything else I can do?"
IMAGE = "https://shop.example.com/img/route-104233.png"


def _next_id(channel: str, message_id: str) -> str:
    """Another provider message id of the channel's shape."""
    return str(int(message_id) + 1) if channel == "telegram" else "SM" + "e" * 32


async def _ready(customer: Any) -> None:
    if isinstance(customer, WebCustomer) and customer.ws is None:
        await customer.open()


def _options_shown(channel: str, reply: Any) -> bool:
    """The bot's two buttons, as this channel can show them."""
    if channel == "whatsapp":  # no buttons: numbered options, answered with the number
        return "1. Track my order" in reply.text and "2. Talk to a person" in reply.text
    return reply.buttons == ["Track my order", "Talk to a person"]


async def test_a_message_is_answered_through_the_channel(any_channel) -> None:
    app, customer = any_channel
    await _ready(customer)
    response = await customer.say("Hello, is my order on its way?")
    if response is not None:
        assert response.status_code == 200, response.text
    [reply] = await customer.replies(1)
    assert reply.text.startswith("bot: Hello, is my order on its way?")
    assert _options_shown(app.channel.name(), reply)
    assert app.bot.seen == [(conversation_id(app.channel.name(), customer.address), "Hello, is my order on its way?")]


async def test_a_replayed_message_id_is_processed_once(any_channel) -> None:
    app, customer = any_channel
    await _ready(customer)
    message_id = "7001" if app.channel.name() == "telegram" else "SM" + "d" * 32
    await customer.say("first try", message_id=message_id)
    await customer.replies(1)
    await customer.say("first try", message_id=message_id)  # the provider's retry
    # A marker after the retry: anything the retry caused would reach the customer before its answer.
    await customer.say("second message", message_id=_next_id(app.channel.name(), message_id))
    await customer.replies(2)
    assert app.bot.texts == ["first try", "second message"]
    assert [r.text.splitlines()[0] for r in customer.received()] == ["bot: first try", "bot: second message"]


async def test_during_a_handoff_the_agent_and_the_customer_reach_each_other_once(
    any_channel, console_service: Service, http: httpx.AsyncClient, live_store: HandoffStore
) -> None:
    app, customer = any_channel
    await _ready(customer)
    channel = app.channel.name()
    cid = conversation_id(channel, customer.address)
    await live_store.request(replace(english_request(cid), channel=channel))
    csrf = await login(http, "dana")
    headers = {"X-CSRF-Token": csrf}
    await http.post("/console/api/presence", json={"status": "online"}, headers=headers)
    assert (await http.post(f"/console/api/chats/{quote(cid, safe='')}/take", headers=headers)).status_code == 200
    ws = await console_socket(console_service.base_url, str(http.cookies.get("kesher_session")))
    try:
        await customer.say("The parcel arrived soaking wet")
        event = await next_frame(ws, lambda m: m["type"] == "event" and m["event"]["kind"] == "customer")
        assert event["cid"] == cid and event["event"]["text"] == "The parcel arrived soaking wet"
        assert app.bot.seen == []  # the bot stays silent during the handoff

        sent = await http.post(f"/console/api/chats/{quote(cid, safe='')}/messages", json={"text": AGENT_REPLY},
                               headers=headers)
        assert sent.status_code == 201, sent.text
        await customer.replies(2)  # "Dana … has joined", then the answer
        # A second answer as a marker: a duplicate of the first would reach the customer before it.
        marker = await http.post(f"/console/api/chats/{quote(cid, safe='')}/messages", json={"text": AGENT_MARKER},
                                 headers=headers)
        assert marker.status_code == 201, marker.text
        await customer.replies(3)
        assert [AGENT_MARKER in r.text for r in customer.received()] == [False, False, True]
        answers = [r.text for r in customer.received() if AGENT_REPLY in r.text]
        assert len(answers) == 1
        if isinstance(customer, WebCustomer):  # the widget shows the name above the bubble
            assert [m["author_name"] for m in customer.messages(("agent",))] == ["Dana", "Dana"]
        else:  # the chat apps show the business; the text carries the agent's name
            assert answers[0].lstrip("*").startswith("Dana")
        assert await live_store.state(cid) is ConversationState.WITH_AGENT
    finally:
        await ws.close()


async def test_an_image_and_a_link_reach_each_channel_as_it_can_show_them(any_channel) -> None:
    app, customer = any_channel
    await _ready(customer)
    channel = app.channel.name()
    cid = conversation_id(channel, customer.address)
    await app.rt.queue_outbound(OutboundMessage(
        message_id=uuid.uuid4().hex, cid=cid, channel=channel, kind="bot", image=IMAGE,
        text="Here is your parcel's route: https://shop.example.com/track/104233",
    ))
    [reply] = await customer.replies(1)
    assert "https://shop.example.com/track/104233" in reply.text  # links stay text the app makes clickable
    if isinstance(customer, WebCustomer):
        assert customer.messages()[0]["image"] == IMAGE
    elif channel == "whatsapp":
        assert customer.twilio.messages_to("whatsapp:" + customer.address)[0].media_url == [IMAGE]
    else:
        [photo] = await customer.telegram.wait_for_async("sendPhoto", 1, chat_id=customer.chat_id)
        assert photo.params["photo"] == IMAGE
