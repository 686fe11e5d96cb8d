"""The canned replies: the catalog's canned_* entries, complete in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from actions.orders.domain import RETURN_WINDOW_DAYS
from console.canned import canned_replies
from core.texts import TextCatalog, TextError
from tests.helpers.texts import catalog

HEBREW = re.compile(r"[\u0590-\u05FF]")


def test_canned_replies_are_complete_and_bilingual():
    replies = canned_replies(catalog())
    assert len(replies) >= 10
    assert len({r.shortcut for r in replies}) == len(replies)
    assert [r.shortcut for r in replies][:2] == ["hi", "wait"]  # the file's order, as agents see them
    for reply in replies:
        assert HEBREW.search(reply.he), reply.shortcut
        assert not HEBREW.search(reply.en), reply.shortcut
        assert len(reply.he) <= 4000 and len(reply.en) <= 4000
        # named in the console's language: a Hebrew console lists Hebrew names
        assert HEBREW.search(reply.title("he")) and not HEBREW.search(reply.title("en")), reply.shortcut
        # placeholders are the same in both languages, and only the two the console fills in
        assert set(re.findall(r"\{(\w+)\}", reply.he)) == set(re.findall(r"\{(\w+)\}", reply.en)) <= {
            "agent", "reference"}


# What no canned reply may promise: nothing in Kesher, nor anything an agent does from the console, mails a return
# label, sends a replacement by express, texts a tracking number or has a courier redirect a parcel (#17).
UNBACKED = {
    "en": ("return label", "express", "text message", "sms", "tracking number", "redirect"),
    "he": ("תווית החזרה", "משלוח מהיר", "sms", "מספר המעקב", "חברת השילוח תעביר"),
}


def test_canned_replies_promise_only_what_kesher_or_the_agent_does():
    replies = {r.shortcut: r for r in canned_replies(catalog())}
    for reply in replies.values():
        for language, text in (("en", reply.en), ("he", reply.he)):
            assert not [w for w in UNBACKED[language] if w in text.lower()], (reply.shortcut, language)
    # A return is opened by the bot's returns flow (or "My orders"), on the bot's own terms.
    returns = replies["return"]
    assert f"{RETURN_WINDOW_DAYS} days" in returns.en and f"{RETURN_WINDOW_DAYS} יום" in returns.he
    assert "in this chat" in returns.en and "בצ'אט" in returns.he
    assert "₪19.90" in returns.en and "₪19.90" in returns.he  # the courier collection the bot quotes
    # A damaged item: what the agent can do from the panel (store credit) or the customer (a return).
    damaged = replies["replace"]
    assert "store credit" in damaged.en and "זיכוי לחנות" in damaged.he
    assert "replacement" not in damaged.en.lower() and "חלופי" not in damaged.he
    # An address changes only before shipping; the change is confirmed by e-mail (AgentOrderActions).
    address = replies["address"]
    assert "hasn't left our warehouse" in address.en and "לא יצאה מהמחסן" in address.he
    assert "can no longer be changed" in address.en and "אי אפשר לשנות" in address.he


@pytest.mark.parametrize("bad, message", [
    ('texts:\n  canned_a:\n    he: {title: t, text: x}\n', "needs a Hebrew and an English reply"),
    ('texts:\n  canned_Bad Key:\n    he: {title: t, text: x}\n    en: {title: t, text: y}\n', "lower-case"),
])
def test_bad_canned_entries_are_refused(tmp_path: Path, bad: str, message: str):
    (tmp_path / "canned.yml").write_text(bad, encoding="utf-8")
    with pytest.raises(TextError, match=message):
        canned_replies(TextCatalog.load(tmp_path))
