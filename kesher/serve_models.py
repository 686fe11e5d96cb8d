"""The model server ``rasa run`` pulls from (part ``models``): ``python -m kesher.serve_models``.

Imports only the model server, so the process stays small (see :mod:`kesher.part`).
"""

from __future__ import annotations

import sys

from core.settings import Settings
from kesher.part import run_part
from writers.model_server import create_app

__all__ = ["serve"]


def serve(settings: Settings) -> None:
    """Serves the published model on loopback until stopped."""
    create_app(settings.published_dir).run(host="127.0.0.1", port=settings.model_server_port, access_log=False,
                                           motd=False)


if __name__ == "__main__":
    sys.exit(run_part(serve))
