"""One customer across channels: addresses, verified e-mails, linking, and an open handoff following them."""

from __future__ import annotations

from redis.asyncio import Redis

from core.redis_keys import RedisKeys
from handoff.identity import IdentityBook, conversation_id
from handoff.models import ConversationState, EventKind
from handoff.router import HandoffRouter, InboundMessage
from handoff.state import HandoffStore
from tests.handoff.helpers import Clock, make_desk, request

WEB = conversation_id("web", "s-1")
WHATSAPP = conversation_id("whatsapp", "+972501234567")
TELEGRAM = conversation_id("telegram", "4242")


async def test_a_new_address_is_its_own_conversation(redis_client: Redis) -> None:
    book = IdentityBook(redis_client, RedisKeys())
    assert await book.resolve("whatsapp", "+972501234567") == WHATSAPP
    assert await book.address(WHATSAPP, "whatsapp") == "+972501234567"
    assert await book.address(WHATSAPP, "telegram") is None


async def test_verifying_the_same_email_on_a_second_channel_links_it_to_the_first(redis_client: Redis) -> None:
    book = IdentityBook(redis_client, RedisKeys())
    first = await book.verified(WEB, "Noa.Cohen@example.com")
    assert first.cid == WEB and not first.linked
    again = await book.verified(WEB, "noa.cohen@example.com")  # the same chat verifying twice
    assert again.cid == WEB and not again.linked

    link = await book.verified(WHATSAPP, " NOA.COHEN@example.com ")
    assert link.cid == WEB and link.linked
    assert await book.resolve("whatsapp", "+972501234567") == WEB
    assert await book.address(WEB, "whatsapp") == "+972501234567"
    assert await book.address(WEB, "web") == "s-1"

    # A third channel joins the same conversation; other customers stay apart.
    await book.verified(TELEGRAM, "noa.cohen@example.com")
    assert await book.resolve("telegram", "4242") == WEB
    assert (await book.verified(conversation_id("web", "s-2"), "someone@example.com")).linked is False
    assert await book.resolve("web", "s-2") == conversation_id("web", "s-2")


async def test_no_email_is_stored_in_clear(redis_client: Redis) -> None:
    await IdentityBook(redis_client, RedisKeys()).verified(WEB, "noa.cohen@example.com")
    assert not [k for k in await redis_client.keys("*") if "noa" in k]


async def test_an_open_handoff_follows_the_customer_to_the_new_channel(store: HandoffStore) -> None:
    desk = make_desk(store, Clock())
    await desk.customer_verified(WEB, "noa@example.com", "web", "en")
    await store.request(request(WEB, channel="web"))
    await store.take(WEB, "dana", "Dana Levi", 3, require_online=False)

    text = await desk.customer_verified(WHATSAPP, "noa@example.com", "whatsapp", "en")
    assert "Dana" in text and "here" in text
    conv = await store.get(WEB)
    assert conv is not None and conv.channel == "whatsapp" and conv.state is ConversationState.WITH_AGENT
    notes = [e for e in await store.events(WEB) if e.kind is EventKind.NOTE]
    assert "whatsapp" in notes[-1].text and "noa@example.com" in notes[-1].text


async def test_a_waiting_customer_keeps_their_place(store: HandoffStore) -> None:
    desk = make_desk(store, Clock())
    await desk.customer_verified(WEB, "noa@example.com", "web", "he")
    await store.request(request(WEB, channel="web", language="he"))
    text = await desk.customer_verified(WHATSAPP, "noa@example.com", "whatsapp", "he")
    assert "במקום 1 בתור" in text


async def test_without_a_handoff_the_customer_is_told_the_chats_are_joined(store: HandoffStore) -> None:
    desk = make_desk(store, Clock())
    assert await desk.customer_verified(WEB, "noa@example.com", "web", "en") == ""
    text = await desk.customer_verified(WHATSAPP, "noa@example.com", "whatsapp", "en")
    assert "earlier conversation" in text


async def test_writing_from_another_linked_channel_moves_the_answers_there(store: HandoffStore) -> None:
    clock = Clock()
    router = HandoffRouter(make_desk(store, clock), clock=clock)
    await store.request(request(WEB, channel="web"))
    await store.take(WEB, "dana", "Dana Levi", 3, require_online=False)
    result = await router.route(InboundMessage(cid=WEB, channel="telegram", text="I'm on my phone now"))
    assert not result.to_bot
    conv = await store.get(WEB)
    assert conv is not None and conv.channel == "telegram"
    kinds = [e.kind for e in await store.events(WEB)][-2:]
    assert kinds == [EventKind.NOTE, EventKind.CUSTOMER]
    await store.tell_customer(conv, "Got it")
    rows = await store.redis.xrange(store.keys.outbound())
    assert rows[-1][1]["channel"] == "telegram"
