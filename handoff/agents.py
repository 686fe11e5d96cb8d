"""Agents and teams, from a YAML file (``handoff/agents.yml``, the ``agents_file`` setting).

Passwords are stored as argon2 hashes only. ``python -m kesher add-agent``
adds one to the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, Iterable, List, Mapping, Optional

import yaml
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from core.language import LANGUAGES, Language, as_language
from handoff.models import Agent

__all__ = ["ROLES", "AgentDirectory", "Team", "hash_password", "load_agents", "password_matches"]

ROLES = ("agent", "supervisor", "writer", "manager")
_HASHER = PasswordHasher()


def hash_password(password: str) -> str:
    """An argon2id hash of ``password`` with the library's default cost."""
    return _HASHER.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    """Whether ``password`` matches an argon2 hash (CPU-bound: run it off the event loop)."""
    try:
        return bool(_HASHER.verify(password_hash, password))
    except (VerificationError, InvalidHashError):
        return False


@dataclass(frozen=True)
class Team:
    """A group of agents; a transfer can target a team.

    Attributes:
        team_id: Short name.
        name: Shown in the console.
        members: Agent ids.
    """

    team_id: str
    name: str
    members: tuple[str, ...] = ()


@dataclass
class AgentDirectory:
    """Everyone who may log in to the console, by id."""

    agents: Dict[str, Agent] = field(default_factory=dict)
    teams: Dict[str, Team] = field(default_factory=dict)

    def get(self, agent_id: str) -> Optional[Agent]:
        """The agent with that login name, if any."""
        return self.agents.get(agent_id)

    def all(self) -> List[Agent]:
        """Every agent, by id."""
        return [self.agents[k] for k in sorted(self.agents)]

    def display_name(self, agent_id: str, language: Optional[str], full_name: str = "") -> str:
        """What a customer writing ``language`` calls an agent.

        For an agent no longer in the file: the first name of ``full_name``.
        """
        agent = self.agents.get(agent_id)
        if agent is not None:
            return agent.display_name(language)
        return full_name.split()[0] if full_name.strip() else agent_id

    def team_of(self, agent_id: str) -> List[str]:
        """The teams an agent belongs to (from the agent's entry and the team lists)."""
        agent = self.agents.get(agent_id)
        mine = set(agent.teams if agent else ())
        mine |= {t.team_id for t in self.teams.values() if agent_id in t.members}
        return sorted(mine)

    def in_team(self, team_id: str) -> List[Agent]:
        """The members of a team."""
        return [a for a in self.all() if team_id in self.team_of(a.agent_id)]


def _agent(agent_id: str, raw: Mapping[str, object]) -> Agent:
    def strings(value: object) -> tuple[str, ...]:
        if isinstance(value, str):
            return tuple(x.strip() for x in value.split(",") if x.strip())
        return tuple(str(x) for x in (value or []))  # type: ignore[attr-defined]

    return Agent(
        agent_id=agent_id,
        name=str(raw.get("name") or agent_id),
        password_hash=str(raw.get("password_hash") or ""),
        languages=strings(raw.get("languages", list(LANGUAGES))),
        topics=strings(raw.get("topics", [])),
        teams=strings(raw.get("teams", [])),
        capacity=int(raw.get("capacity", 3)),  # type: ignore[call-overload]
        role=str(raw.get("role") or "agent"),
        email=str(raw.get("email") or ""),
        ui_language=_ui_language(raw.get("ui_language")),
        display_names=_display_names(raw.get("display_name")),
    )


def _display_names(value: object) -> tuple[tuple[str, str], ...]:
    """``display_name: {he: "דנה", en: "Dana"}`` → ``(("en", "Dana"), ("he", "דנה"))``."""
    if value is None or value == "":
        return ()
    if not isinstance(value, Mapping):
        raise ValueError("display_name must map a language to a name, e.g. {he: דנה, en: Dana}")
    names: list[tuple[str, str]] = []
    for language, name in value.items():
        if language not in LANGUAGES:
            raise ValueError(f"display_name: {language!r} is not one of {', '.join(LANGUAGES)}")
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"display_name: the {language} name must be a non-empty text")
        names.append((str(language), name.strip()))
    return tuple(sorted(names))


def _ui_language(value: object) -> Optional[Language]:
    if value is None or value == "":
        return None
    if value not in LANGUAGES:
        raise ValueError(f"ui_language must be one of {', '.join(LANGUAGES)}, not {value!r}")
    return as_language(value)


def load_agents(path: Path) -> AgentDirectory:
    """Reads the agents file.

    Raises:
        ValueError: An entry is malformed (the message names it).
    """
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    agents: Dict[str, Agent] = {}
    for agent_id, raw in (data.get("agents") or {}).items():
        try:
            agents[str(agent_id)] = _agent(str(agent_id), raw or {})
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{path}: agent {agent_id!r}: {exc}") from exc
    teams: Dict[str, Team] = {}
    for team_id, raw in (data.get("teams") or {}).items():
        raw = raw or {}
        members: Iterable[str] = raw.get("members") or []
        teams[str(team_id)] = Team(str(team_id), str(raw.get("name") or team_id), tuple(str(m) for m in members))
    return AgentDirectory(agents, teams)
