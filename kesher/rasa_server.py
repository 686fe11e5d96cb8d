"""``rasa run`` started from Python, so its API secret never appears in a process's arguments.

Rasa 3.6 takes its API token only from ``--auth-token`` (readable by anyone in
``ps`` on the machine) and checks it as ``?token=`` in URLs (written to access
and proxy logs). This entry point builds the same arguments ``rasa run`` would
get, minus any secret, and hands ``RASA_API_TOKEN`` to Rasa in Python as its
JWT secret (HS256); clients send a short-lived signed JWT in an
``Authorization`` header (``core/rasa_api.py``). There is no plain token, so a
``?token=`` opens nothing. Rasa listens on loopback only: the channels' public
routes reach it through the front door, its HTTP API never does.

Run as ``python -m kesher.rasa_server`` (the supervisor does) or
``python -m kesher serve rasa``, with the settings in the environment.
"""

from __future__ import annotations

import argparse
import sys
from typing import List

import rasa.cli.utils
import rasa.telemetry
import rasa.utils.io
import rasa.utils.tensorflow.environment as tf_env
from rasa.cli import run as rasa_run_cli
from rasa.cli.arguments.default_arguments import add_logging_options
from rasa.plugin import plugin_manager
from rasa.utils.common import configure_logging_and_warnings
from rasa.utils.log_utils import configure_structlog

from bot import model_swap
from core.rasa_api import JWT_METHOD
from core.settings import PROJECT_ROOT, Settings
from kesher.part import checked_settings

__all__ = ["LOOPBACK", "main", "rasa_arguments", "serve"]

LOOPBACK = "127.0.0.1"


def rasa_arguments(settings: Settings) -> List[str]:
    """The ``rasa`` command line this process runs: no secret in it, loopback only."""
    return [
        "run",
        "--interface", LOOPBACK,
        "--port", str(settings.rasa_port),
        "--endpoints", str(PROJECT_ROOT / "endpoints.yml"),
        "--credentials", str(PROJECT_ROOT / "credentials.yml"),
        "--enable-api",
    ]


def _run_parser() -> argparse.ArgumentParser:
    """Rasa's own parser of ``rasa run`` (only that command: the others look for models as they are built)."""
    parent = argparse.ArgumentParser(add_help=False)
    add_logging_options(parent)
    parser = argparse.ArgumentParser(prog="rasa")
    rasa_run_cli.add_subparser(parser.add_subparsers(), parents=[parent])
    return parser


def parse_arguments(settings: Settings) -> argparse.Namespace:
    """Rasa's own parse of :func:`rasa_arguments`, with the API secret added in Python."""
    args = _run_parser().parse_args(rasa_arguments(settings))
    args.auth_token = None  # no plain token: `?token=` in a URL opens nothing
    args.jwt_secret = settings.rasa_api_token
    args.jwt_method = JWT_METHOD
    return args


def serve(settings: Settings) -> None:
    """Runs ``rasa run`` in this process until it is stopped, as Rasa's own ``main`` would."""
    args = parse_arguments(settings)
    log_level = getattr(args, "loglevel", None)
    configure_logging_and_warnings(log_level, getattr(args, "logging_config_file", None), warn_only_once=True,
                                   filter_repeated_logs=True)
    tf_env.setup_tf_environment()
    tf_env.check_deterministic_ops()
    sys.path.insert(1, str(PROJECT_ROOT))  # Kesher's components, as `rasa` finds them from its cwd
    if settings.model_swap == "thread":
        model_swap.install()  # a pulled model loads off the event loop
    rasa.utils.io.configure_colored_logging(log_level)
    hooks = plugin_manager().hook
    result = hooks.configure_commandline(cmdline_arguments=args)
    endpoints_file = result[0] if result else None
    rasa.telemetry.initialize_telemetry()
    hooks.init_telemetry(endpoints_file=endpoints_file)
    hooks.init_managers(endpoints_file=endpoints_file)
    hooks.init_anonymization_pipeline(endpoints_file=endpoints_file)
    configure_structlog(log_level)
    args.func(args)


def main() -> int:
    """``python -m kesher.rasa_server``: checks the settings, then serves until stopped (Rasa sets up logging)."""
    settings = checked_settings()
    if settings is None:
        return 2
    serve(settings)
    return 0


if __name__ == "__main__":
    sys.exit(main())
