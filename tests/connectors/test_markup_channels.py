"""The markup means the same on every channel: Telegram gets its HTML mode, WhatsApp its *bold*.

An agent's message goes the same way through the real channels (python-telegram-bot against the
fake Bot API, twilio's client against the fake Twilio), with its ``<script>`` kept as text.
"""

from __future__ import annotations

from typing import Any

from handoff.identity import conversation_id
from handoff.models import EventKind
from tests.handoff.helpers import request

MARKED = "Free shipping **over ₪299**: see [our terms](https://shop.example.com/terms) or https://shop.example.com/help"
HOSTILE = '<script>alert(1)</script> **AT&T** [click](javascript:alert(1)) [ok](https://shop.example.com/a?b=1&c="2")'


async def _agent_says(app: Any, channel: str, address: str, text: str, name: str = "Dana") -> None:
    cid = conversation_id(channel, address)
    await app.rt.store.request(request(cid, channel=channel))
    conv = await app.rt.store.get(cid)
    await app.rt.store.tell_customer(conv, text, kind=EventKind.AGENT, author="dana", author_name=name)


async def test_telegram_gets_bold_and_links_in_html_mode(telegram_channel) -> None:
    app, customer = telegram_channel
    await _agent_says(app, "telegram", str(customer.chat_id), MARKED)
    await customer.replies(1)
    [sent] = customer.telegram.sent_messages(customer.chat_id)
    assert sent["parse_mode"] == "HTML"
    assert sent["text"] == ('Dana: Free shipping <b>over ₪299</b>: see <a href="https://shop.example.com/terms">our '
                            'terms</a> or <a href="https://shop.example.com/help">https://shop.example.com/help</a>')


async def test_telegram_keeps_an_agents_tags_and_javascript_links_as_text(telegram_channel) -> None:
    app, customer = telegram_channel
    await _agent_says(app, "telegram", str(customer.chat_id), HOSTILE, name="<b>Eve</b>")
    await customer.replies(1)
    [sent] = customer.telegram.sent_messages(customer.chat_id)
    assert sent["parse_mode"] == "HTML"
    assert sent["text"] == (
        "&lt;b&gt;Eve&lt;/b&gt;: &lt;script&gt;alert(1)&lt;/script&gt; <b>AT&amp;T</b> [click](javascript:alert(1)) "
        '[ok](https://shop.example.com/a?b=1&amp;c="2")')


async def test_whatsapp_gets_its_own_bold_and_plain_links(whatsapp) -> None:
    app, customer = whatsapp
    await _agent_says(app, "whatsapp", customer.address, MARKED)
    [reply] = await customer.replies(1)
    assert reply.text == ("*Dana*: Free shipping *over ₪299*: see our terms (https://shop.example.com/terms) or "
                          "https://shop.example.com/help")


async def test_whatsapp_lists_no_options_that_are_their_own_numbers(whatsapp) -> None:
    """The rating after a chat says "from 1 to 5" itself; "1. 1 … 5. 5" under it said nothing more."""
    app, customer = whatsapp
    # Without the quick-reply template (test_csat_options.py has it) the rating question goes as text.
    app.rt.settings = app.rt.settings.replace(twilio_content_csat_en="", twilio_content_csat_he="")
    cid = conversation_id("whatsapp", customer.address)
    await app.rt.store.request(request(cid, channel="whatsapp"))
    conv = await app.rt.store.get(cid)
    question = "How did we do? Reply with a number from 1 (poor) to 5 (excellent)."
    await app.rt.store.tell_customer(conv, question, buttons=tuple((str(n), str(n)) for n in range(1, 6)))
    await app.rt.store.tell_customer(conv, "Which one?", buttons=(("Return", "/start_return"),))
    first, second = await customer.replies(2)
    assert first.text == question
    assert second.text.splitlines()[-1] == "1. Return"
