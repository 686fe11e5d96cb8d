"""Every process's ``/metrics`` on the running stack, each scraped over HTTP after something happened.

``rasa run``: turns by channel, language and outcome, their latency, fallbacks, handoffs started,
deliveries; the action server: calls by action; the handoff service: the queue, the wait when an
agent took the chat, agents online, open chats; the model server: the pulls of ``rasa run``.
"""

from __future__ import annotations

import pytest

from core.settings import Settings
from tests.helpers.callback import CallbackCustomer, CallbackInbox
from tests.helpers.console import ConsoleAgent
from tests.helpers.metrics import Scrape, scrape_now
from tests.helpers.stack import Customer
from tests.helpers.waiting import until

pytestmark = pytest.mark.stack


def _moved(after: Scrape, before: Scrape, name: str, **labels: str) -> float:
    return after.value(name, **labels) - before.value(name, **labels)


def test_turns_fallbacks_handoffs_and_the_actions_behind_them_are_counted(stack, stack_settings: Settings) -> None:
    rasa_before = scrape_now(stack_settings.rasa_url)
    actions_base = stack_settings.action_server_url.removesuffix("/webhook")
    actions_before = scrape_now(actions_base)
    customer = Customer(stack_settings)
    customer.say("hello")
    customer.say("flibber jabber wonk")
    customer.say("I want to talk to a person")  # REST carries no live chat: recorded, and the customer told where
    rasa = scrape_now(stack_settings.rasa_url)
    turns = {"channel": "kesher_rest", "language": "en"}
    assert _moved(rasa, rasa_before, "kesher_turns_total", outcome="answered", **turns) == 1
    assert _moved(rasa, rasa_before, "kesher_turns_total", outcome="fell_back", **turns) == 1
    assert _moved(rasa, rasa_before, "kesher_turns_total", outcome="handed_off", **turns) == 1
    assert _moved(rasa, rasa_before, "kesher_fallbacks_total", **turns) == 1
    assert _moved(rasa, rasa_before, "kesher_handoffs_started_total", channel="kesher_rest",
                  reason="explicit_request") == 1
    assert _moved(rasa, rasa_before, "kesher_turn_seconds_count", channel="kesher_rest") == 3
    assert rasa.types["kesher_undelivered"] == "gauge"
    actions = scrape_now(actions_base)
    assert _moved(actions, actions_before, "kesher_action_calls_total", action="action_fallback") == 1
    assert _moved(actions, actions_before, "kesher_action_calls_total", action="action_handoff") == 1
    assert _moved(actions, actions_before, "kesher_action_seconds_count", action="action_handoff") == 1


async def test_a_handoff_on_a_live_channel_moves_the_deliveries_the_queue_and_the_wait(
        stack, stack_settings: Settings, inbox: CallbackInbox) -> None:
    rasa_before = scrape_now(stack_settings.rasa_url)
    desk_before = scrape_now(stack_settings.handoff_url)
    for other in ("dana", "omer", "sarah"):  # nobody an earlier test of the shared stack left online takes it
        ConsoleAgent(stack_settings, other).presence("away")
    customer = CallbackCustomer(stack_settings, inbox)
    customer.say("I want to talk to a human", lambda msgs: "in line" in " ".join(m.get("text", "") for m in msgs))
    queued = scrape_now(stack_settings.handoff_url)
    assert queued.value("kesher_queue_length") >= 1
    rasa = await until(lambda: _delivered(stack_settings, rasa_before), what="the replies' deliveries counted")
    assert rasa is not None
    assert _moved(rasa, rasa_before, "kesher_handoffs_started_total", channel="kesher_callback",
                  reason="explicit_request") == 1

    agent = ConsoleAgent(stack_settings, "sarah")
    agent.presence("online")  # the assigner gives her the chat
    try:
        inbox.wait(customer.sender_id, lambda msgs: any("joined" in m.get("text", "") for m in msgs))
        taken = await until(lambda: _taken(stack_settings, desk_before), what="the queue wait observed")
        assert taken is not None
        assert taken.value("kesher_agents_online") >= 1 and taken.value("kesher_open_chats") >= 1
        agent.close(customer.cid, "resolved")
    finally:
        agent.presence("away")


def _delivered(settings: Settings, before: Scrape) -> Scrape | None:
    now = scrape_now(settings.rasa_url)
    return now if _moved(now, before, "kesher_deliveries_total", channel="kesher_callback") >= 2 else None


def _taken(settings: Settings, before: Scrape) -> Scrape | None:
    now = scrape_now(settings.handoff_url)
    return now if _moved(now, before, "kesher_queue_wait_seconds_count") >= 1 else None


async def test_the_model_server_counts_the_pulls_of_rasa_run(stack, stack_settings: Settings) -> None:
    base = f"http://127.0.0.1:{stack_settings.model_server_port}"
    before = scrape_now(base)
    # rasa run asks every model_pull_seconds (2 s in the tests) and gets 304 while nothing changed
    def pulled() -> Scrape | None:
        now = scrape_now(base)
        return now if _moved(now, before, "kesher_model_pulls_total", result="not_modified") >= 1 else None

    after = await until(pulled, what="a pull counted", timeout=30)
    assert after is not None and after.value("kesher_model_published_timestamp_seconds") > 0
