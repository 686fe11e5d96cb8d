"""The canned replies file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from handoff.console.canned import CANNED_PATH, load_canned

HEBREW = re.compile(r"[\u0590-\u05FF]")


def test_canned_replies_are_complete_and_bilingual():
    replies = load_canned()
    assert len(replies) >= 10
    assert len({r.shortcut for r in replies}) == len(replies)
    for reply in replies:
        assert HEBREW.search(reply.he), reply.shortcut
        assert not HEBREW.search(reply.en), reply.shortcut
        assert reply.title and len(reply.he) <= 4000 and len(reply.en) <= 4000
        # placeholders are the same in both languages
        assert set(re.findall(r"\{(\w+)\}", reply.he)) == set(re.findall(r"\{(\w+)\}", reply.en)) <= {
            "agent", "reference"}


@pytest.mark.parametrize("bad, message", [
    ("replies:\n  - {shortcut: a, title: t, he: x}\n", "lacks en"),
    ("replies:\n  - {shortcut: Bad Key, title: t, he: x, en: y}\n", "must be lower-case"),
    ("replies:\n  - {shortcut: ab, title: t, he: x, en: y}\n  - {shortcut: ab, title: u, he: x, en: y}\n", "twice"),
])
def test_bad_canned_files_are_refused(tmp_path: Path, bad: str, message: str):
    path = tmp_path / "canned.yml"
    path.write_text(bad, encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        load_canned(path)


def test_default_path_is_the_project_file():
    assert CANNED_PATH.name == "canned.yml" and CANNED_PATH.parent.name == "handoff"
