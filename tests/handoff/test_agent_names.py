"""Agents' display names per language (handoff/agents.yml `display_name`), used in what customers read."""

from __future__ import annotations

from pathlib import Path

import pytest

from core.settings import PROJECT_ROOT
from handoff.agents import load_agents


def _agents(tmp_path: Path, entry: str) -> Path:
    path = tmp_path / "agents.yml"
    path.write_text(f"agents:\n  dana:\n    name: Dana Levi\n{entry}", encoding="utf-8")
    return path


def test_a_customer_reads_the_name_of_their_language_else_the_first_name(tmp_path: Path) -> None:
    directory = load_agents(_agents(tmp_path, '    display_name: {he: "דנה", en: "Dana"}\n'))
    dana = directory.agents["dana"]
    assert (dana.display_name("he"), dana.display_name("en"), dana.display_name(None)) == ("דנה", "Dana", "Dana")
    plain = load_agents(_agents(tmp_path, "")).agents["dana"]
    assert plain.display_name("he") == "Dana"
    assert directory.display_name("dana", "he") == "דנה"
    assert directory.display_name("gone", "he", "Omer Katz") == "Omer"  # no longer in the file


@pytest.mark.parametrize("entry, why", [
    ('    display_name: "דנה"\n', "must map a language"),
    ('    display_name: {fr: "Dana"}\n', "'fr' is not one of"),
    ('    display_name: {he: ""}\n', "non-empty"),
])
def test_a_malformed_display_name_is_refused_by_name(tmp_path: Path, entry: str, why: str) -> None:
    with pytest.raises(ValueError, match="agent 'dana'") as caught:
        load_agents(_agents(tmp_path, entry))
    assert why in str(caught.value)


def test_the_demo_desk_agents_have_hebrew_names() -> None:
    agents = load_agents(PROJECT_ROOT / "handoff" / "agents.yml").agents
    assert agents["dana"].display_name("he") == "דנה" and agents["omer"].display_name("he") == "עומר"
