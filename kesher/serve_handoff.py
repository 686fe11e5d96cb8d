"""The handoff service and agent console (part ``handoff``): ``python -m kesher.serve_handoff``.

Imports the console, not Rasa or the other commands (see :mod:`kesher.part`).
"""

from __future__ import annotations

import sys

from console.app import create_app
from core.settings import Settings
from kesher.part import run_part

__all__ = ["serve"]


def serve(settings: Settings) -> None:
    """Serves the handoff service on loopback until stopped."""
    create_app(settings).run(host="127.0.0.1", port=settings.handoff_port, access_log=False, motd=False)


if __name__ == "__main__":
    sys.exit(run_part(serve))
