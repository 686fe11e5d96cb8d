"""The action server (part ``actions``): ``python -m kesher.serve_actions``.

Imports the actions and the backends they are given, not Rasa (see :mod:`kesher.part`).
"""

from __future__ import annotations

import sys

from actions.server import create_app
from core.settings import Settings
from kesher.part import run_part
from wiring.container import Container

__all__ = ["serve"]


def serve(settings: Settings) -> None:
    """Serves the custom actions until stopped; every call but ``/health`` needs ``KESHER_ACTIONS_TOKEN``."""
    backends = Container(settings).action_backends()
    create_app(backends, settings.actions_token).run(host=settings.actions_host, port=settings.actions_port,
                                                     access_log=False, motd=False)


if __name__ == "__main__":
    sys.exit(run_part(serve))
