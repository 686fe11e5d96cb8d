"""What every served part does first, and which module serves each part.

Each part the supervisor starts runs as its own small module (``python -m
kesher.<module>``) that imports only what that part uses: the command line
(``kesher.cli``) imports every command's code, Rasa, scikit-learn and the
Telegram client among them, which would cost each small server about 170 MB of
memory it never uses. ``python -m kesher serve PART`` replaces itself with the
same module, so both ways run the same code.
"""

from __future__ import annotations

import logging
import os
import sys
from typing import Callable, Dict, Optional

from core.logs import install_log_redaction
from core.production import ProductionRefused, check, demo_warning
from core.settings import Settings

__all__ = ["PART_MODULES", "checked_settings", "run_part", "serve"]

PART_MODULES: Dict[str, str] = {
    "handoff": "kesher.serve_handoff",
    "actions": "kesher.serve_actions",
    "rasa": "kesher.rasa_server",
    "models": "kesher.serve_models",
    "smtpd": "kesher.serve_smtpd",
}
"""The module that serves each part of ``python -m kesher serve PART``."""


def serve(part: str) -> int:
    """Runs one part of Kesher until it is stopped (``python -m kesher serve PART``, the supervisor's children).

    Replaces this process with the part's own module (:data:`PART_MODULES`; same process id, so
    the supervisor's signals reach it), which imports only what the part uses and checks the
    settings itself. ``python -m kesher`` calls this before it imports the command line, so a
    part starts without loading Rasa and TensorFlow first. Returns only if the part's module
    cannot be started.

    The part gets the environment the supervisor would give it (:meth:`Settings.serving_env`: the
    addresses ``endpoints.yml`` reads, ``PYTHONPATH``...), so a service manager (systemd, see
    ``deploy/systemd/``) needs to set only Kesher's own settings.
    """
    os.execve(sys.executable, [sys.executable, "-m", PART_MODULES[part]], Settings.from_env().serving_env())


def checked_settings() -> Optional[Settings]:
    """The settings from the environment, if they are safe to serve with.

    Prints each problem of unsafe production settings on its own line of stderr,
    or the demo warning if any.

    Returns:
        The settings, or ``None`` when production refuses them (exit with code 2).
    """
    settings = Settings.from_env()
    try:
        check(settings)
    except ProductionRefused as exc:
        print(exc, file=sys.stderr)
        return None
    warning = demo_warning(settings)
    if warning:
        print(warning, file=sys.stderr, flush=True)
    return settings


def run_part(serve: Callable[[Settings], None]) -> int:
    """Checks the settings from the environment, then runs ``serve`` until it returns.

    Refuses unsafe production settings (:func:`checked_settings`, exit code 2) and sets up
    logging with the redaction of secrets.

    Args:
        serve: Runs the part with the settings until it is stopped.

    Returns:
        The process's exit code.
    """
    settings = checked_settings()
    if settings is None:
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    install_log_redaction(settings)
    serve(settings)
    return 0
