"""One customer across channels: addresses, verified e-mails, linking, and an open handoff following them."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from core.bidi import strip_controls
from core.redis_keys import RedisKeys
from handoff.desk import Desk
from handoff.identity import IdentityBook, conversation_id
from handoff.models import ConversationState, EventKind
from handoff.router import HandoffRouter, InboundMessage
from handoff.state import HandoffStore
from tests.handoff.helpers import Clock, conversation, make_desk, request

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
    assert "במקום 1 בתור" in strip_controls(text)


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


# -- linking only a recently active conversation, and saying so on the first channel (sec-ident) --------------

def _desk_with_book(store: HandoffStore, clock: Clock) -> tuple[Desk, IdentityBook]:
    desk = make_desk(store, clock)
    book = IdentityBook(store.redis, store.keys, recent_seconds=24 * 3600, clock=clock)
    desk.identity = book
    return desk, book


async def _notices(store: HandoffStore) -> list[dict[str, str]]:
    return [fields for _, fields in await store.redis.xrange(store.keys.outbound())]


async def test_a_stale_conversation_is_not_joined_and_the_newer_one_takes_the_email_over(
    redis_client: Redis,
) -> None:
    clock = Clock()
    book = IdentityBook(redis_client, RedisKeys(), recent_seconds=24 * 3600, clock=clock)
    await book.resolve("web", "s-1")
    await book.verified(WEB, "noa@example.com")
    clock.now += 25 * 3600  # the web customer has not written for a day and an hour

    link = await book.verified(WHATSAPP, "noa@example.com")
    assert not link.linked and link.cid == WHATSAPP and link.refused == "stale"
    assert await book.resolve("whatsapp", "+972501234567") == WHATSAPP
    assert await book.address(WEB, "whatsapp") is None  # nothing of the new chat went to the old one
    # The e-mail now belongs to the WhatsApp conversation, which is active.
    assert (await book.verified(TELEGRAM, "noa@example.com")).cid == WHATSAPP


async def test_a_recent_conversation_is_joined_within_the_window(redis_client: Redis) -> None:
    clock = Clock()
    book = IdentityBook(redis_client, RedisKeys(), recent_seconds=24 * 3600, clock=clock)
    await book.verified(WEB, "noa@example.com")
    clock.now += 23 * 3600
    await book.resolve("web", "s-1")  # the customer wrote on the web a moment ago
    clock.now += 3600
    link = await book.verified(WHATSAPP, "noa@example.com")
    assert link.linked and link.cid == WEB and link.told == {"web": "s-1"}


async def test_a_second_address_on_the_same_channel_is_not_joined(redis_client: Redis) -> None:
    book = IdentityBook(redis_client, RedisKeys())
    await book.verified(WEB, "noa@example.com")
    other_session = conversation_id("web", "s-2")
    link = await book.verified(other_session, "noa@example.com")  # would replay s-1's widget history
    assert not link.linked and link.refused == "same_channel"
    assert await book.resolve("web", "s-2") == other_session
    assert await book.address(WEB, "web") == "s-1"


@pytest.mark.parametrize(("language", "notice"), [
    ("en", "This conversation was just continued on WhatsApp. If that was not you"),
    ("he", "השיחה הזו ממשיכה מעכשיו גם בוואטסאפ. אם זה לא אתם"),
])
async def test_the_first_channel_is_told_when_another_joins(store: HandoffStore, language: str, notice: str) -> None:
    desk, book = _desk_with_book(store, Clock())
    await book.resolve("web", "s-1")
    await desk.customer_verified(WEB, "noa@example.com", "web", language)
    assert await _notices(store) == []

    text = await desk.customer_verified(WHATSAPP, "noa@example.com", "whatsapp", language)
    assert text  # the new channel hears it joined the earlier conversation
    notices = await _notices(store)
    assert [(n["cid"], n["channel"], n["kind"]) for n in notices] == [(WEB, "web", "system")]
    assert notices[0]["text"].startswith(notice)


async def test_nothing_is_announced_when_a_stale_conversation_is_left_alone(store: HandoffStore) -> None:
    clock = Clock()
    desk, book = _desk_with_book(store, clock)
    await desk.customer_verified(WEB, "noa@example.com", "web", "en")
    clock.now += 2 * 24 * 3600
    assert await desk.customer_verified(WHATSAPP, "noa@example.com", "whatsapp", "en") == ""
    assert await _notices(store) == []
    assert await book.resolve("whatsapp", "+972501234567") == WHATSAPP


@pytest.mark.parametrize(("language", "objection", "done"), [
    ("en", "Not me!", "Done: WhatsApp is no longer connected to this conversation."),
    ("he", "זה לא אני", "בוצע: וואטסאפ כבר לא מחובר לשיחה הזו."),
])
async def test_the_first_channel_can_disconnect_a_channel_that_was_not_the_customer(
    store: HandoffStore, language: str, objection: str, done: str
) -> None:
    clock = Clock()
    desk, book = _desk_with_book(store, clock)
    router = HandoffRouter(desk, clock=clock)
    await desk.customer_verified(WEB, "noa@example.com", "web", language)
    await store.request(request(WEB, channel="web", language=language))
    await store.take(WEB, "dana", "Dana Levi", 3, require_online=False)
    await desk.customer_verified(WHATSAPP, "noa@example.com", "whatsapp", language)  # someone else, it turns out
    assert (await conversation(store, WEB)).channel == "whatsapp"

    # Said on the joined channel, it undoes nothing: it is a message for the agent like any other.
    await router.route(InboundMessage(cid=WEB, channel="whatsapp", text=objection))
    assert await book.resolve("whatsapp", "+972501234567") == WEB

    result = await router.route(InboundMessage(cid=WEB, channel="web", text=objection))
    assert not result.to_bot
    assert await book.resolve("whatsapp", "+972501234567") == WHATSAPP
    assert await book.address(WEB, "whatsapp") is None
    assert (await conversation(store, WEB)).channel == "web"  # the agent's replies come back to the web chat
    notices = await _notices(store)
    assert notices[-1]["channel"] == "web" and notices[-1]["text"].startswith(done)
    notes = [e.text for e in await store.events(WEB) if e.kind is EventKind.NOTE]
    assert "was not them" in notes[-1]
    # Only the latest link, once.
    await router.route(InboundMessage(cid=WEB, channel="web", text=objection))
    assert [n["text"] for n in await _notices(store)].count(notices[-1]["text"]) == 1
