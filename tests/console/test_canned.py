"""The canned replies: the catalog's canned_* entries, complete in both languages."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

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


@pytest.mark.parametrize("bad, message", [
    ('texts:\n  canned_a:\n    he: {title: t, text: x}\n', "needs a Hebrew and an English reply"),
    ('texts:\n  canned_Bad Key:\n    he: {title: t, text: x}\n    en: {title: t, text: y}\n', "lower-case"),
])
def test_bad_canned_entries_are_refused(tmp_path: Path, bad: str, message: str):
    (tmp_path / "canned.yml").write_text(bad, encoding="utf-8")
    with pytest.raises(TextError, match=message):
        canned_replies(TextCatalog.load(tmp_path))
