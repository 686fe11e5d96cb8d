"""A customer asks for a person and gets one, through the whole stack.

redis-server, the local SMTP server, the action server, `rasa run` (with the
loopback `kesher_callback` channel) and the handoff service run as separate
processes. The customer writes on the callback channel and reads what Kesher
POSTs back; the agent uses the console's HTTP API.
"""

from __future__ import annotations

import email
import re
from email import policy as email_policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any, Callable, Dict, List

import pytest
import requests

from core.bidi import strip_controls
from core.rasa_api import api_headers
from tests.helpers.backends import orders_where, pick
from tests.helpers.callback import CallbackCustomer
from tests.helpers.console import ConsoleAgent
from tests.helpers.waiting import until_sync

pytestmark = pytest.mark.stack


def _texts(messages: List[Dict[str, Any]]) -> str:
    """The messages' wording (without the isolates Hebrew texts put around values)."""
    return strip_controls("\n".join(m["text"] for m in messages))


def _has(fragment: str) -> Callable[[List[Dict[str, Any]]], bool]:
    return lambda msgs: fragment in _texts(msgs)


def _mails_to(folder: Path, to: str) -> List[EmailMessage]:
    found = []
    for path in sorted(folder.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email_policy.default)
        assert isinstance(message, EmailMessage)  # what the default policy parses into
        if to in str(message["To"]):
            found.append(message)
    return found


def _mails(folder: Path, to: str, count: int, timeout: float = 30) -> List[EmailMessage]:
    """The e-mails to ``to`` in the local mail folder, once there are at least ``count``."""
    def enough() -> List[EmailMessage]:
        found = _mails_to(folder, to)
        return found if len(found) >= count else []

    return until_sync(enough, what=f"{count} e-mail(s) to {to}", timeout=timeout, every=0.2)


def _body(message: EmailMessage, kind: str) -> str:
    """The e-mail's ``plain`` or ``html`` part."""
    part = message.get_body((kind,))
    assert part is not None, f"the e-mail {message['Subject']!r} has no {kind} part"
    return str(part.get_content())


def _tracker(settings, sender_id: str) -> Dict[str, Any]:
    response = requests.get(f"{settings.rasa_url}/conversations/{sender_id}/tracker",
                            headers=api_headers(settings.rasa_api_token), timeout=30)
    assert response.status_code == 200
    return response.json()


def test_english_customer_to_agent_and_back_to_the_bot(stack, stack_settings, stack_orders, inbox):
    order = pick(orders_where(stack_orders, status="delayed", language="en"), seed=11)
    customer = CallbackCustomer(stack_settings, inbox)

    # The bot answers on this channel too, and verifies the customer.
    customer.say("where is my order?", _has("order number"))
    customer.say(order.order_id, _has("e-mail"))
    status = customer.say(order.email, _has(order.order_id))
    assert order.tracking_number  # a delayed order is on its way
    assert "late" in _texts(status).lower() and order.tracking_number in _texts(status)

    # Asking for a person: queued, with a place in line; nobody is online yet.
    queued = customer.say("I want to talk to a human", _has("in line"))
    assert "number 1 in line" in _texts(queued) and "No one is available" in _texts(queued)
    reference = _tracker(stack_settings, customer.cid)["slots"]["handoff_reference"]
    assert reference in _texts(queued)

    # The summary e-mail goes out at handoff: what was asked, what the bot found, why, the reference.
    [summary] = _mails(stack_settings.mail_dir, order.email, 1)
    assert reference in str(summary["Subject"])
    summary_text = _body(summary, "plain")
    assert "where is my order" in summary_text and order.order_id in summary_text
    assert 'dir="rtl"' not in _body(summary, "html")

    # While waiting, the bot is silent: what the customer writes goes to the agent side.
    response = customer.send("It's the blue kettle, order " + order.order_id)
    assert response.status_code == 200 and response.json()["routed"] == ["queued"]

    # The agent logs in and sees the conversation at the head of the queue, with why it came.
    agent = ConsoleAgent(stack_settings, "sarah")
    row = next(r for r in agent.queue() if r["cid"] == customer.cid)
    assert row["reason"] == "explicit_request" and row["language"] == "en" and row["reference"] == reference
    # Online: the assigner gives her the conversation (she speaks English and has room),
    # and the customer learns her first name.
    agent.presence("online")
    inbox.wait(customer.sender_id, _has("Sarah from our team has joined"))
    assert agent.wait_customer_texts(customer.cid, lambda t: len(t) >= 1) == [
        "It's the blue kettle, order " + order.order_id
    ]
    panel = agent.get(f"/api/chats/{customer.cid}/panel")
    assert panel["verified"] and any(o["order_id"] == order.order_id for o in panel["orders"])
    transcript = agent.get(f"/api/chats/{customer.cid}/transcript")
    assert transcript["available"]
    assert any("where is my order" in turn["text"] for turn in transcript["turns"])

    # Live chat both ways.
    before = len(customer.received())
    agent.send(customer.cid, "Hi, I'm checking with the courier now.")
    reply = inbox.wait(customer.sender_id, lambda m: len(m) > before)[before:]
    assert [m["text"] for m in reply] == ["Hi, I'm checking with the courier now."]
    assert reply[0]["kind"] == "agent" and reply[0]["author_name"] == "Sarah"
    customer.send("thank you!")
    assert agent.wait_customer_texts(customer.cid, lambda t: "thank you!" in t)[-1] == "thank you!"

    # Close: the customer gets the satisfaction question, answers, and the bot is back.
    agent.close(customer.cid, "replacement_sent", summary="A replacement kettle ships today.",
                next_steps="Tracking number by SMS within 24 hours.")
    asked = inbox.wait(customer.sender_id, _has("How did we do?"))
    assert [b["title"] for b in asked[-1]["buttons"]] == ["1", "2", "3", "4", "5"]
    customer.say("5", _has("Anything you'd like to add"))
    customer.say("Sarah was great", _has("Thanks for your feedback"))
    customer.say("how much does delivery cost?", _has("29.90"))  # the bot answers again

    # The bot's tracker knows the outcome; nothing said to the agent ever reached the bot.
    tracker = _tracker(stack_settings, customer.cid)
    assert tracker["slots"]["handoff_outcome"] == "replacement_sent"
    assert tracker["slots"]["handoff_agent"] == "Sarah"
    assert tracker["slots"]["handoff_csat"] == 5
    said_to_bot = [e["text"] for e in tracker["events"] if e["event"] == "user"]
    for private in ("thank you!", "Sarah was great", "It's the blue kettle, order " + order.order_id, "5"):
        assert private not in said_to_bot

    # The closing e-mail: what the agent did, next steps, her name, and a reply-to address.
    mails = _mails(stack_settings.mail_dir, order.email, 2)
    assert len(mails) == 2 and all(reference in str(m["Subject"]) for m in mails)
    closing = next(m for m in mails if "Sarah" in str(m["Subject"]))
    assert "replacement kettle" in _body(closing, "plain").lower()
    assert closing["Reply-To"].addresses[0].addr_spec == "sarah@kesher.example"


def test_hebrew_customer_waits_then_goes_back_to_the_bot(stack, stack_settings, inbox):
    customer = CallbackCustomer(stack_settings, inbox)
    customer.say("שלום", lambda msgs: len(msgs) >= 1)
    queued = customer.say("אני רוצה לדבר עם נציג", _has("כתובת המייל"))
    # Only an English-speaking agent is online: no estimate is promised to a Hebrew customer.
    assert "מקומכם בתור לצוות שלנו: 1" in _texts(queued) and "אין נציג פנוי" in _texts(queued)
    # No e-mail known: the bot asks for one, with its purpose; the address given gets a code first.
    assert "סיכום של השיחה" in _texts(queued)
    asked = customer.say("dana.cohen@example.co.il", _has("קוד בן 6 ספרות"))
    assert "dana.cohen@example.co.il" in _texts(asked)
    [code_mail] = _mails(stack_settings.mail_dir, "dana.cohen@example.co.il", 1)
    code = re.search(r"\b\d{6}\b", _body(code_mail, "plain"))
    assert code is not None
    saved = customer.say(code.group(0), _has("הסיכום יישלח"))
    assert "dana.cohen@example.co.il" in _texts(saved)
    # The customer stops waiting; the bot answers the next message in Hebrew.
    customer.say("ביטול", _has("הוצאתי אתכם מהתור"))
    answer = customer.say("מה שעות הפעילות שלכם?", lambda msgs: len(msgs) >= 1)
    assert "08:00" in _texts(answer)
