"""``rasa``: what ``rasa data validate`` reports, at the file and line it is about."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import List, Optional

from core.settings import Settings
from writers.checks.base import ERROR, Finding, Options
from writers.project import Loc, Project
from writers.rasa_batch import run_rasa

__all__ = ["KNOWN_RASA_WARNING", "check_rasa", "rasa_messages", "rasa_validate_command"]

# Rasa 3.6 warns about any retrieval intent declared in the domain, because it
# merges the retrieval intents found in the NLU data into the domain a second
# time (see tests/test_rasa_native.py): not about our data, so not a finding.
KNOWN_RASA_WARNING = "The following duplicated intents have been found across multiple domain files: faq"
RASA_TIMEOUT_SECONDS = 600

_ANSI = re.compile(r"\x1b\[[0-9;]*m")
_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\s+(?P<level>[A-Z]+)\s+\S+\s+-\s+(?P<message>.*)$")
_WARNING_LINE = re.compile(r"\bUserWarning: (?P<message>.*)$")


def rasa_validate_command(project: Project) -> List[str]:
    """The arguments of ``rasa data validate`` as tests/test_rasa_native.py runs it, for this project."""
    return [
        "data", "validate", "--fail-on-warnings",
        "--domain", project.rel(project.domain_path),
        "--data", project.rel(project.data_path),
        "--config", project.rel(project.config_path),
    ]


def rasa_messages(output: str, logged: bool = True) -> List[str]:
    """Rasa's warnings and logged warnings/errors, one string each (multi-line ones joined).

    Args:
        output: What ``rasa data validate`` printed.
        logged: Include log lines of level WARNING or above (story conflicts are
            logged), not only ``UserWarning``s.
    """
    messages: List[str] = []
    current: Optional[List[str]] = None
    for raw in _ANSI.sub("", output).splitlines():
        warning, log = _WARNING_LINE.search(raw), _LOG_LINE.match(raw)
        if warning or (logged and log and log.group("level") in ("WARNING", "ERROR", "CRITICAL")):
            current = [(warning or log).group("message").strip()]  # type: ignore[union-attr]
            messages.append("")
        elif current is not None and raw.strip() and not log and not raw.startswith("  More info") and (
            not raw[:1].isspace() or raw.strip().startswith(("utter_", "action_", "-"))
        ) and "Warning:" not in raw and not raw.startswith(("Processed ", "Project validation")):
            current.append(raw.strip())
        else:
            current = None
        if current is not None:
            messages[-1] = " ".join(part for part in current if part)
    return [m for m in dict.fromkeys(messages) if m and KNOWN_RASA_WARNING not in m]


def _locate(project: Project, message: str) -> Loc:
    """Where a Rasa message points: the file it names, and the line of the first name it quotes there."""
    path: Optional[str] = None
    for candidate in re.findall(r"['\"\s(]([^'\"\s()]+\.ya?ml)\b", f" {message}"):
        file = Path(candidate) if Path(candidate).is_absolute() else project.root / candidate
        if file.is_file():
            path = project.rel(file)
            break
    quoted = re.findall(r"'([^'\s]+)'", message)
    domain = project.domain
    quoted_blocks = set(re.findall(r"'([^']+)'", message))
    refs = sorted(project.story_refs, key=lambda r: r.block_name not in quoted_blocks)  # the block it names first
    stories = [r.loc for q in quoted for r in refs if r.name == q]
    examples = [Loc(b.path, b.line) for q in quoted for b in project.intent_blocks if b.intent == q]
    examples += [
        Loc(b.path, e.line) for q in re.findall(r"'([^']+)'", message) if " " in q
        for b in project.intent_blocks for e in b.examples if e.text == q
    ]
    definitions = [
        section[q] for q in quoted
        for section in (domain.intents, domain.actions, domain.responses, domain.slots, domain.forms, domain.entities)
        if q in section
    ]
    # "used in the stories" points at the story, "in the training data" at the examples,
    # "not used in any story" at the definition.
    places = examples + stories + definitions if "training data" in message else stories + definitions + examples
    in_file = [p for p in places if p.path == path] if path else places
    if in_file:
        return in_file[0]
    line = re.search(r"line (\d+)", message)
    return Loc(path or ".", int(line.group(1)) if path and line else (1 if path else 0))


def check_rasa(project: Project, options: Options) -> List[Finding]:
    """``rasa``: what ``rasa data validate`` reports (its known ``faq`` warning aside)."""
    command = rasa_validate_command(project)
    env = Settings.from_env().child_env()
    # The project's own components (config.yml names them) load from its folder, then from Kesher's.
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(p for p in (str(project.root), env["PYTHONPATH"]) if p))
    try:
        # One Python process as `make ship`'s other lanes (writers/rasa_batch.py): Rasa's imports kept out of
        # the garbage collector's walks (38 % of a plain `rasa data validate`, py-spy 2026-11-30).
        done = run_rasa([command], project.root, env, timeout=RASA_TIMEOUT_SECONDS)
    except OSError as exc:
        return [Finding("rasa", ERROR, ".", 0, f"could not run `rasa {' '.join(command)}` ({exc}); run `make install`")]
    if done.timed_out:
        return [Finding("rasa", ERROR, ".", 0, f"`rasa {' '.join(command)}` did not finish in {RASA_TIMEOUT_SECONDS} s "
                                               "and was stopped")]
    output = done.output
    findings = []
    # Like tests/test_rasa_native.py, any UserWarning but the known one fails; a
    # logged warning only counts when Rasa itself failed the validation.
    for message in rasa_messages(output, logged=done.returncode != 0):
        loc = _locate(project, message)
        findings.append(Finding(
            "rasa", ERROR, loc.path, loc.line,
            f"Rasa's validation: {message} (fix what it names at this place; "
            "`PYTHONPATH=. .venv/bin/rasa data validate --domain domain --data data` shows Rasa's full output)",
        ))
    if done.returncode != 0 and not findings:
        tail = " | ".join(line for line in _ANSI.sub("", output).splitlines()[-8:] if line.strip())
        findings.append(Finding("rasa", ERROR, ".", 0,
                                f"`rasa data validate` failed (exit status {done.returncode}): {tail}"))
    return findings
