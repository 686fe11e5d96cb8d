"""Customer messages are routed by handoff state: bot, agent side, or the satisfaction question."""

from __future__ import annotations

import pytest

from handoff.models import ConversationState, EventKind
from handoff.router import HandoffRouter, InboundMessage
from handoff.state import HandoffStore
from tests.handoff.helpers import Clock, conversation, make_desk, request


@pytest.fixture()
def clock() -> Clock:
    return Clock()


@pytest.fixture()
def router(store: HandoffStore, clock: Clock) -> HandoffRouter:
    return HandoffRouter(make_desk(store, clock), clock=clock)


def _msg(cid: str, text: str) -> InboundMessage:
    return InboundMessage(cid=cid, channel="kesher_callback", text=text)


async def _outbound_texts(store: HandoffStore, cid: str) -> list[str]:
    rows = await store.redis.xrange(store.keys.outbound())
    return [fields["text"] for _, fields in rows if fields["cid"] == cid]


async def test_a_conversation_with_no_handoff_goes_to_the_bot(router: HandoffRouter) -> None:
    result = await router.route(_msg("c1", "hello"))
    assert result.to_bot and result.state is ConversationState.BOT


async def test_while_queued_messages_reach_the_agent_side_only(router: HandoffRouter, store: HandoffStore) -> None:
    await store.request(request("c2"))
    result = await router.route(_msg("c2", "are you there? my order 123456 is late"))
    assert not result.to_bot and result.state is ConversationState.QUEUED
    customer = [e for e in await store.events("c2") if e.kind is EventKind.CUSTOMER]
    assert [e.text for e in customer] == ["are you there? my order 123456 is late"]


async def test_with_an_agent_messages_reach_the_agent(router: HandoffRouter, store: HandoffStore) -> None:
    await store.request(request("c3", language="he"))
    await store.take("c3", "dana", "Dana Levi", 3, require_online=False)
    result = await router.route(_msg("c3", "תודה, אני מחכה"))
    assert not result.to_bot and result.state is ConversationState.WITH_AGENT
    event = (await store.events("c3"))[-1]
    assert event.kind is EventKind.CUSTOMER and event.data["language"] == "he"


async def test_cancel_while_queued_returns_to_the_bot(router: HandoffRouter, store: HandoffStore) -> None:
    await store.request(request("c4", language="he"))
    result = await router.route(_msg("c4", "ביטול"))
    assert not result.to_bot and result.state is ConversationState.BOT
    assert await store.state("c4") is ConversationState.BOT and await store.queue() == []
    assert "הוצאתי אתכם מהתור" in (await _outbound_texts(store, "c4"))[-1]
    # The next message is the bot's again.
    assert (await router.route(_msg("c4", "שלום"))).to_bot


async def test_cancel_with_an_agent_is_just_a_message_to_the_agent(router: HandoffRouter, store: HandoffStore) -> None:
    await store.request(request("c5"))
    await store.take("c5", "dana", "Dana Levi", 3, require_online=False)
    result = await router.route(_msg("c5", "cancel"))
    assert not result.to_bot and await store.state("c5") is ConversationState.WITH_AGENT


async def test_an_email_given_while_queued_is_kept_unverified_until_its_code(
    router: HandoffRouter, store: HandoffStore
) -> None:
    # The code e-mail and the code itself are in tests/handoff/test_email_verification.py.
    desk = router.desk
    await desk.request(request("c6"))
    await router.route(_msg("c6", "sure, it's noa.b@example.org thanks"))
    conv = await conversation(store, "c6")
    assert conv.email == "" and conv.email_unverified == "noa.b@example.org" and conv.email_requested
    assert "6-digit code" in (await _outbound_texts(store, "c6"))[-1]


async def test_satisfaction_rating_then_comment_then_back_to_the_bot(
    router: HandoffRouter, store: HandoffStore
) -> None:
    await store.request(request("c7"))
    await store.take("c7", "dana", "Dana Levi", 3, require_online=False)
    await store.close("c7", "dana", "resolved")
    first = await router.route(_msg("c7", "5"))
    assert not first.to_bot and (await conversation(store, "c7")).csat_rating == 5
    second = await router.route(_msg("c7", "Dana was great"))
    assert not second.to_bot and second.state is ConversationState.BOT
    conv = await conversation(store, "c7")
    assert conv.csat_comment == "Dana was great" and conv.csat_stage == "done"
    assert (await router.route(_msg("c7", "where is my order?"))).to_bot
    # Nothing said during the handoff or the survey was ever routed to the bot.
    customer_texts = [e.text for e in await store.events("c7") if e.kind is EventKind.CUSTOMER]
    assert customer_texts == []  # the survey answers are stored on the conversation, not as chat


async def test_after_close_a_new_question_skips_the_survey(router: HandoffRouter, store: HandoffStore) -> None:
    await store.request(request("c8"))
    await store.take("c8", "dana", "Dana Levi", 3, require_online=False)
    await store.close("c8", "dana", "resolved")
    result = await router.route(_msg("c8", "what are your opening hours?"))
    assert result.to_bot and await store.state("c8") is ConversationState.BOT


async def test_after_the_survey_times_out_the_bot_answers(
    router: HandoffRouter, store: HandoffStore, clock: Clock
) -> None:
    await store.request(request("c9"))
    await store.take("c9", "dana", "Dana Levi", 3, require_online=False)
    await store.close("c9", "dana", "resolved")
    clock.now += 31 * 60
    assert (await router.route(_msg("c9", "4"))).to_bot


async def test_a_very_long_message_reaches_the_agent_shortened(router: HandoffRouter, store: HandoffStore) -> None:
    await store.request(request("c10"))
    await router.route(_msg("c10", "x" * 10_000))
    event = (await store.events("c10"))[-1]
    assert event.text.endswith("[…]") and len(event.text) < 4100
