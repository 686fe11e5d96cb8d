"""The local SMTP server of ``make up`` (part ``smtp``): ``python -m kesher.serve_smtpd``.

Imports only the mail code, so the process stays small (see :mod:`kesher.part`).
"""

from __future__ import annotations

import asyncio
import sys

from core.settings import Settings
from handoff.mail.smtpd import serve_smtpd
from kesher.part import run_part

__all__ = ["serve"]


def serve(settings: Settings) -> None:
    """Receives mail on loopback into ``var/mail`` until SIGINT or SIGTERM."""
    asyncio.run(serve_smtpd("127.0.0.1", settings.smtp_port, settings.mail_dir, settings.retention_seconds))


if __name__ == "__main__":
    sys.exit(run_part(serve))
