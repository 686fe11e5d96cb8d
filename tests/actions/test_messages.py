"""Every action message exists in both languages with the same placeholders."""

from __future__ import annotations

import pytest

from actions.messages import MessageCatalog, MessageError


def test_every_message_has_the_same_values_in_both_languages():
    catalog = MessageCatalog.from_dir()
    for name in catalog.names():
        placeholders = catalog.placeholders(name)
        assert placeholders["en"] == placeholders["he"], name


def test_a_missing_language_is_refused():
    with pytest.raises(MessageError, match="no 'he' text"):
        MessageCatalog({"hello": {"en": "Hello"}})


def test_a_missing_value_is_an_error_not_a_broken_message():
    catalog = MessageCatalog({"hi": {"en": "Hi {name}", "he": "היי {name}"}})
    with pytest.raises(MessageError, match="name"):
        catalog.render("hi", "en")
    assert catalog.render("hi", "he", name="דנה").text == "היי דנה"
    assert catalog.render("hi", None, name="Dana").text == "Hi Dana"


def test_every_message_an_action_names_exists():
    import pathlib
    import re

    catalog = set(MessageCatalog.from_dir().names())
    source = "\n".join(p.read_text() for p in pathlib.Path("actions").rglob("*.py"))
    named = set(re.findall(r'(?:say|offer_human)\([^"\n]*"([a-z_]+)"', source))
    named |= {f"order_status_{s}" for s in ("processing", "shipped", "delayed", "delivered", "cancelled", "returned")}
    named |= {f"return_{c}" for c in ("ok", "not_delivered", "window_passed", "already_returned", "open", "cancelled")}
    named |= {f"ask_{s}" for s in ("order_id", "contact", "new_address", "return_reason")}
    assert named - catalog == set()
