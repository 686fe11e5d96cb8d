"""kill -9 the handoff service mid-conversation: nothing is lost either way, nothing shows twice.

Customer messages are routed inside `rasa run` into Redis, and agents' messages
leave through Redis to the channels' delivery worker, so the service holds no
message only in memory; after a restart the agent's session (in Redis) and the
whole conversation are still there.
"""

from __future__ import annotations

import signal
from collections import Counter

import pytest

from tests.helpers.callback import CallbackCustomer
from tests.helpers.console import ConsoleAgent

pytestmark = pytest.mark.stack


def test_killing_the_handoff_service_loses_and_repeats_nothing(stack, stack_settings, inbox):
    customer = CallbackCustomer(stack_settings, inbox)
    customer.say("אני רוצה לדבר עם נציג אנושי", lambda m: any("בתור" in x["text"] for x in m))
    agent = ConsoleAgent(stack_settings, "dana")
    agent.presence("online")
    # A Hebrew customer reads the agent's Hebrew display name (handoff/agents.yml).
    inbox.wait(customer.sender_id, lambda m: any("דנה" in x["text"] for x in m))

    agent.send(customer.cid, "שלום, כאן דנה. במה אפשר לעזור?")
    customer.send("ההזמנה שלי לא הגיעה")
    agent.wait_customer_texts(customer.cid, lambda t: "ההזמנה שלי לא הגיעה" in t)

    # The agent answers and the service dies right after, without any chance to clean up.
    agent.send(customer.cid, "אני בודקת מול חברת השליחויות")
    handoff = stack.part("handoff")
    handoff.process.send_signal(signal.SIGKILL)
    handoff.process.wait(timeout=10)

    # The customer keeps writing while the service is down: the channel still accepts it.
    for text in ("יש עדכון?", "אני ממתין"):
        response = customer.send(text)
        assert response.status_code == 200 and response.json()["routed"] == ["with_agent"]

    stack.restart("handoff")

    # Same session cookie, same conversation: every customer message once, in order.
    texts = agent.wait_customer_texts(customer.cid, lambda t: "אני ממתין" in t)
    assert texts == ["ההזמנה שלי לא הגיעה", "יש עדכון?", "אני ממתין"]
    agent.send(customer.cid, "החבילה תגיע מחר")

    inbox.wait(customer.sender_id, lambda m: "החבילה תגיע מחר" in [x["text"] for x in m])
    # A last message as a marker: anything sent twice would reach the customer before it.
    agent.send(customer.cid, "עוד משהו?")
    expected = ["שלום, כאן דנה. במה אפשר לעזור?", "אני בודקת מול חברת השליחויות", "החבילה תגיע מחר", "עוד משהו?"]
    received = inbox.wait(customer.sender_id, lambda m: expected[-1] in [x["text"] for x in m])
    from_agent = [m for m in received if m["kind"] == "agent"]
    assert [m["text"] for m in from_agent] == expected
    assert max(Counter(m["message_id"] for m in received).values()) == 1
    agent.close(customer.cid, "resolved")
