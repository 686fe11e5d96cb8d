"""``python -m kesher add-agent``: add or update an agent in the agents file.

The file keeps its comments, order and layout (ruamel.yaml round trip); only
the agent's entry changes. The password is asked twice (or read from stdin
with ``--password-stdin``) and stored as an argon2 hash, never in clear.

Setting a password anew ends the agent's console sessions: at once when the
file is the service's own (the ``agents_file`` setting) and its Redis answers,
and in any case when the handoff service restarts with the new hash (each
session carries a fingerprint of the hash it was opened with).
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional, Sequence, TextIO

from redis.exceptions import RedisError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq
from ruamel.yaml.scalarstring import DoubleQuotedScalarString

from console.sessions import SessionStore
from core.language import LANGUAGES
from core.settings import Settings
from handoff.agents import ROLES, hash_password
from wiring.container import Container

__all__ = ["MIN_PASSWORD_LENGTH", "add_agent_cli", "end_sessions", "upsert_agent"]

MIN_PASSWORD_LENGTH = 8
_ID = re.compile(r"^[a-z0-9][a-z0-9_.-]{1,31}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_WORD = re.compile(r"^[a-z0-9][a-z0-9_/-]{0,39}$")


def _list(value: str) -> List[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m kesher add-agent",
        description="Add an agent to the agents file, or update one (the password is always set anew).",
    )
    parser.add_argument("agent_id", metavar="ID", help="login name: lower-case letters, digits, . _ -")
    parser.add_argument("--name", help="full name; customers see the first name (required for a new agent)")
    parser.add_argument("--languages", help="comma-separated, of he,en (new agent default: he,en)")
    parser.add_argument("--teams", help="comma-separated team ids from the file's teams")
    parser.add_argument("--topics", help="comma-separated routing topics, e.g. orders,returns")
    parser.add_argument("--capacity", type=int, help="most conversations at once, 1-20 (new agent default: 3)")
    parser.add_argument("--role", choices=ROLES, help="agent, supervisor, writer or manager (new agent default: agent)")
    parser.add_argument("--email", help="reply-to address for closing e-mails")
    parser.add_argument("--display-name", action="append", metavar="LANG=NAME", dest="display_names",
                        help="what customers writing LANG call the agent, e.g. he=דנה (repeat for each language; "
                             "default: the first name of --name)")
    parser.add_argument("--ui-language", choices=LANGUAGES,
                        help="language of the agent's console, he or en (default: the console_language setting)")
    parser.add_argument("--password-stdin", action="store_true", help="read the password from the first line of stdin")
    parser.add_argument("--file", type=Path, help="agents file (default: KESHER_AGENTS_FILE)")
    return parser


def _flow(items: Sequence[str]) -> CommentedSeq:
    seq = CommentedSeq(list(items))
    seq.fa.set_flow_style()
    return seq


def _yaml() -> YAML:
    yaml = YAML()
    yaml.preserve_quotes = True  # type: ignore[assignment]
    yaml.width = 4096  # type: ignore[assignment]
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def upsert_agent(
    path: Path,
    agent_id: str,
    password_hash: str,
    *,
    name: Optional[str] = None,
    languages: Optional[List[str]] = None,
    teams: Optional[List[str]] = None,
    topics: Optional[List[str]] = None,
    capacity: Optional[int] = None,
    role: Optional[str] = None,
    email: Optional[str] = None,
    ui_language: Optional[str] = None,
    display_names: Optional[Dict[str, str]] = None,
) -> bool:
    """Adds or updates one agent in the YAML file, keeping everything else as it was.

    Args:
        path: The agents file (created with an ``agents`` section if missing).
        agent_id: The login name.
        password_hash: The argon2 hash to store.
        name: Full name (required for a new agent).
        languages: Languages answered in.
        teams: Team ids; each must exist in the file's ``teams``.
        topics: Routing topics.
        capacity: Most concurrent conversations.
        role: ``agent``, ``supervisor``, ``writer`` or ``manager``.
        email: Reply-to address.
        ui_language: The language of the agent's console (``he`` or ``en``); not written when None.
        display_names: What customers writing each language call the agent (``{"he": "דנה"}``); merged into
            the agent's ``display_name``, the other languages' names kept.

    Returns:
        True if the agent was new, False if it was updated.

    Raises:
        ValueError: A new agent without a name, or a team the file does not define.
    """
    yaml = _yaml()
    data = yaml.load(path.read_text(encoding="utf-8")) if path.exists() else None
    if data is None:
        data = CommentedMap()
    if not isinstance(data, CommentedMap):
        raise ValueError(f"{path} is not a YAML mapping")
    if data.get("agents") is None:
        data["agents"] = CommentedMap()
    agents = data["agents"]
    known_teams = set((data.get("teams") or {}).keys())
    if teams and known_teams and not set(teams) <= known_teams:
        unknown = ", ".join(sorted(set(teams) - known_teams))
        raise ValueError(f"no such team: {unknown} (the file defines {', '.join(sorted(known_teams))})")
    entry = agents.get(agent_id)
    is_new = entry is None
    if is_new:
        if not name:
            raise ValueError("a new agent needs --name")
        entry = CommentedMap()
        entry["name"] = DoubleQuotedScalarString(name)
        entry["password_hash"] = DoubleQuotedScalarString(password_hash)
        entry["email"] = email or ""
        entry["languages"] = _flow(languages or list(LANGUAGES))
        entry["topics"] = _flow(topics or [])
        entry["teams"] = _flow(teams or [])
        entry["capacity"] = capacity if capacity is not None else 3
        entry["role"] = role or "agent"
        if ui_language is not None:
            entry["ui_language"] = ui_language
        agents[agent_id] = entry
        _set_display_names(entry, display_names)
    else:
        entry["password_hash"] = DoubleQuotedScalarString(password_hash)
        if name:
            entry["name"] = DoubleQuotedScalarString(name)
        if email is not None:
            entry["email"] = email
        if languages is not None:
            entry["languages"] = _flow(languages)
        if topics is not None:
            entry["topics"] = _flow(topics)
        if teams is not None:
            entry["teams"] = _flow(teams)
        if capacity is not None:
            entry["capacity"] = capacity
        if role is not None:
            entry["role"] = role
        if ui_language is not None:
            entry["ui_language"] = ui_language
        _set_display_names(entry, display_names)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            yaml.dump(data, out)
        if path.exists():
            os.chmod(tmp, path.stat().st_mode & 0o777)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return is_new


def _set_display_names(entry: CommentedMap, names: Optional[Dict[str, str]]) -> None:
    if not names:
        return
    current = entry.get("display_name")
    if not isinstance(current, CommentedMap):
        current = CommentedMap()
        current.fa.set_flow_style()
        entry["display_name"] = current
    for language in LANGUAGES:
        if language in names:
            current[language] = DoubleQuotedScalarString(names[language])


def _display_names(values: Optional[List[str]], errors: List[str]) -> Optional[Dict[str, str]]:
    """``["he=דנה", "en=Dana"]`` → ``{"he": "דנה", "en": "Dana"}``; what is wrong goes to ``errors``."""
    if values is None:
        return None
    names: Dict[str, str] = {}
    for value in values:
        language, _, name = value.partition("=")
        language, name = language.strip(), name.strip()
        if language not in LANGUAGES or not name:
            errors.append(f"--display-name takes LANG=NAME with LANG one of {', '.join(LANGUAGES)} "
                          f"and a name (got {value!r})")
        else:
            names[language] = name
    return names


async def end_sessions(settings: Settings, agent_id: str) -> int:
    """Ends every console session of an agent in the service's Redis; returns how many were open.

    Raises:
        redis.exceptions.RedisError: Redis cannot be reached.
    """
    container = Container(settings)
    try:
        return await SessionStore.from_settings(container.redis, container.keys, settings).end_agent_sessions(
            agent_id)
    finally:
        await container.close()


def _end_sessions_now(settings: Settings, agent_id: str) -> str:
    """Ends the agent's sessions, and says what became of them."""
    try:
        ended = asyncio.run(end_sessions(settings, agent_id))
    except (RedisError, OSError) as exc:
        return (f"could not reach Redis to end {agent_id}'s console sessions now ({exc}); "
                "they end when the handoff service restarts")
    return f"ended {ended} console session(s) of {agent_id}"


def _read_password(from_stdin: bool, stdin: TextIO) -> str:
    if from_stdin:
        return stdin.readline().rstrip("\r\n")
    first = getpass.getpass("Password: ")
    second = getpass.getpass("Password again: ")
    if first != second:
        raise ValueError("the passwords do not match")
    return first


def add_agent_cli(argv: Sequence[str], stdin: Optional[TextIO] = None) -> int:
    """Runs ``add-agent``; prints what it did.

    Args:
        argv: The arguments after ``add-agent``.
        stdin: Where ``--password-stdin`` reads (default ``sys.stdin``).

    Returns:
        0 on success, 2 for bad arguments, 1 when the file could not be written.
    """
    parser = _parser()
    args = parser.parse_args(list(argv))
    errors: List[str] = []
    if not _ID.match(args.agent_id):
        errors.append("ID must be 2-32 lower-case letters, digits, '.', '_' or '-'")
    languages = _list(args.languages) if args.languages is not None else None
    if languages is not None and (not languages or not set(languages) <= set(LANGUAGES)):
        errors.append(f"--languages must be a comma-separated list of {', '.join(LANGUAGES)}")
    teams = _list(args.teams) if args.teams is not None else None
    topics = _list(args.topics) if args.topics is not None else None
    for label, values in (("--teams", teams), ("--topics", topics)):
        if values and not all(_WORD.match(v) for v in values):
            errors.append(f"{label}: use lower-case ids separated by commas")
    if args.capacity is not None and not 1 <= args.capacity <= 20:
        errors.append("--capacity must be between 1 and 20")
    if args.email is not None and args.email and not _EMAIL.match(args.email):
        errors.append("--email is not an e-mail address")
    if args.name is not None and not args.name.strip():
        errors.append("--name must not be empty")
    display_names = _display_names(args.display_names, errors)
    if errors:
        for error in errors:
            print(f"add-agent: {error}", file=sys.stderr)
        return 2
    settings = Settings.from_env()
    path: Path = args.file or settings.agents_file
    try:
        password = _read_password(args.password_stdin, stdin or sys.stdin)
    except (ValueError, EOFError) as exc:
        print(f"add-agent: {exc}", file=sys.stderr)
        return 2
    if len(password) < MIN_PASSWORD_LENGTH:
        print(f"add-agent: the password needs at least {MIN_PASSWORD_LENGTH} characters", file=sys.stderr)
        return 2
    try:
        is_new = upsert_agent(
            path, args.agent_id, hash_password(password),
            name=args.name.strip() if args.name else None, languages=languages, teams=teams, topics=topics,
            capacity=args.capacity, role=args.role, email=args.email, ui_language=args.ui_language,
            display_names=display_names,
        )
    except ValueError as exc:
        print(f"add-agent: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"add-agent: cannot write {path}: {exc}", file=sys.stderr)
        return 1
    print(f"{'added' if is_new else 'updated'} agent {args.agent_id} in {path}; restart the handoff service to apply")
    if not is_new and path.resolve() == settings.agents_file.resolve():
        print(_end_sessions_now(settings, args.agent_id))
    return 0
