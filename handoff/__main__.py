"""``python -m handoff``: run the service, or manage agents.

Commands:
    serve       run the handoff service on 127.0.0.1:$HANDOFF_PORT
    add-agent   add or update an agent in the agents file (asks for a password)
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import List, Optional

from bot.settings import Settings

__all__ = ["main"]


def main(argv: Optional[List[str]] = None) -> int:
    """Runs one command; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "add-agent":
        from handoff.console.cli import add_agent_cli

        return add_agent_cli(argv[1:])
    parser = argparse.ArgumentParser(prog="python -m handoff")
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the handoff service")
    serve.add_argument("--manual-assign", action="store_true",
                       help="agents take conversations from the queue themselves")
    sub.add_parser("add-agent", help="add or update an agent")
    args = parser.parse_args(argv)
    if args.command == "serve":
        from handoff.app import create_app

        logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
        logging.getLogger("handoff").setLevel(logging.INFO)
        settings = Settings.from_env()
        manual = args.manual_assign or os.environ.get("KESHER_MANUAL_ASSIGN", "") in ("1", "true")
        app = create_app(settings, auto_assign=not manual)
        app.run(host="127.0.0.1", port=settings.handoff_port, access_log=False, motd=False)
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
