"""Several ``rasa`` commands in one Python process, so Rasa's imports (~10 s each time) are paid once.

``make ship`` and the NLU gate run a chain of Rasa commands (train, then test;
train on a split, then test it). As separate ``rasa`` processes each
one spends about ten seconds importing Rasa and TensorFlow before it starts.
:func:`run_rasa` runs the chain in one child process instead::

    python -m writers.rasa_batch '[["train", "--out", "models"], ["test", "core", "--e2e", ...]]'

Each command is parsed by Rasa's own argument parser and run exactly as the
``rasa`` command line would run it (same output files, same messages), one
after the other, in the child's folder and environment; the chain stops at the
first command that fails. Before each command the child prints a line
``== rasa <arguments>`` (:data:`MARKER`), which callers use to time each one.

Three things make the child faster than ``rasa`` itself (measured on a training,
docs/benchmarks.md): TensorFlow 2.12 imports jax only for TFLite's jax
converter, which Rasa never calls, so the child leaves jax out (TensorFlow
falls back as when jax is not installed); the ~460,000 objects the imports
create are frozen out of the garbage collector, which otherwise walks them
again and again while training copies and featurizes thousands of examples;
and the collector runs every 100,000 allocations instead of every 700. The
content check's ``rasa data validate`` runs here too.

Rasa also reads every data file four times in a ``rasa train``: its validation and
then the training each check the file against Rasa's schema (which parses the
YAML once more, keeping line numbers) and parse it, with ruamel's pure-Python
parser. :func:`read_each_text_once` keeps, for the life of the child, each
text's parse (a copy is handed out, as Rasa may change it) and the schemas it
passed: 7 of the 50 s of a full training (py-spy, 2026-12-02).
"""

from __future__ import annotations

import copy
import gc
import json
import logging
import subprocess
import sys
import threading
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Set, Tuple

__all__ = ["MARKER", "BatchResult", "ChildProcesses", "Started", "main", "read_each_text_once", "run_rasa"]

MARKER = "== rasa "

Started = Callable[["subprocess.Popen[str]"], None]
"""Called with the child process as soon as it runs."""

logger = logging.getLogger(__name__)


class ChildProcesses:
    """The child processes of one job's parallel steps, which a failed step stops all at once.

    A child that starts after the stop (its step was about to begin) is stopped as it starts.
    """

    def __init__(self, then: Optional[Started] = None) -> None:
        """No children yet; ``then`` is also told of each child as it starts."""
        self._then = then
        self._children: List[subprocess.Popen[str]] = []
        self._stopping = threading.Event()
        self._lock = threading.Lock()

    def started(self, child: subprocess.Popen[str]) -> None:
        """Notes a child that just started (a :data:`Started` callback)."""
        with self._lock:
            self._children.append(child)
            if self._stopping.is_set():
                child.terminate()
        if self._then is not None:
            self._then(child)

    def stop(self) -> None:
        """Stops every child still running, and any that starts from now on."""
        with self._lock:
            self._stopping.set()
            for child in self._children:
                if child.poll() is None:
                    child.terminate()

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was called."""
        return self._stopping.is_set()


@dataclass
class BatchResult:
    """How a chain of Rasa commands went.

    Attributes:
        returncode: 0 when every command succeeded, else the failed command's status.
        output: Everything the child printed (stdout and stderr together).
        failed: The arguments of the command that failed (empty when none did).
        seconds: Wall time of the commands that started, by their first two words ("train", "test core");
            commands of the same name add up.
        timed_out: Whether the child was killed for running longer than it was given.
    """

    returncode: int
    output: str
    failed: List[str] = field(default_factory=list)
    seconds: Dict[str, float] = field(default_factory=dict)
    timed_out: bool = False


def run_rasa(commands: Sequence[Sequence[str]], cwd: Path, env: Mapping[str, str],
             started: Optional[Started] = None, echo: Optional[Callable[[str], object]] = None,
             timeout: Optional[float] = None) -> BatchResult:
    """Runs ``commands`` (each the arguments of one ``rasa`` call) in one child process.

    Args:
        commands: E.g. ``[["train", "--out", "models"], ["test", "core", "--model", "m.tar.gz"]]``.
        cwd: The child's folder (the Rasa project).
        env: The child's environment (``Settings.child_env()``).
        started: Called with the child process as soon as it runs (e.g. to stop it from another thread).
        echo: Called with each line of output as it comes (e.g. ``sys.stdout.write``).
        timeout: Seconds after which the child is killed (``timed_out`` then says so); None: no limit.

    Returns:
        The exit status, the output, which command failed, and how long each took.
    """
    child = subprocess.Popen([sys.executable, "-m", "writers.rasa_batch", json.dumps([list(c) for c in commands])],
                             cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if started is not None:
        started(child)
    killer = threading.Timer(timeout, child.kill) if timeout is not None else None
    if killer is not None:
        killer.daemon = True
        killer.start()
    lines: List[str] = []
    seconds: Dict[str, float] = {}
    begun = 0
    current: Optional[str] = None
    since = time.monotonic()
    assert child.stdout is not None
    for line in child.stdout:
        lines.append(line)
        if echo is not None:
            echo(line)
        if line.startswith(MARKER):
            now = time.monotonic()
            if current is not None:
                seconds[current] = seconds.get(current, 0.0) + now - since
            current, since, begun = _name(line[len(MARKER):].split()), now, begun + 1
    returncode = child.wait()
    timed_out = killer is not None and not killer.is_alive() and returncode < 0
    if killer is not None:
        killer.cancel()
    if current is not None:
        seconds[current] = seconds.get(current, 0.0) + time.monotonic() - since
    failed = list(commands[max(begun, 1) - 1]) if returncode and commands else []
    return BatchResult(returncode, "".join(lines), failed, seconds, timed_out)


def read_each_text_once() -> None:
    """Makes Rasa parse each YAML text, and check it against each schema, once per process.

    Rasa's ``read_yaml`` gets a copy of the text's first parse (with its ``safe`` reader; the schema check's
    round-trip parse, which keeps line numbers, is not kept),
    and ``validate_yaml_schema`` returns at once for a text that already passed that schema; a text that
    failed is checked again, so it fails with Rasa's own message every time. Keyed by the text, not the
    file: an edited file is a new text.
    """
    import rasa.shared.utils.io as rasa_io  # noqa: PLC0415 - Rasa loads in the child only
    import rasa.shared.utils.validation as rasa_validation  # noqa: PLC0415

    read, validate = rasa_io.read_yaml, rasa_validation.validate_yaml_schema
    if getattr(read, "_kesher_once", False):
        return
    parsed: Dict[str, Any] = {}
    passed: Set[Tuple[str, str]] = set()

    def read_yaml(content: str, reader_type: Any = "safe") -> Any:
        if reader_type != "safe":  # the schema check's round-trip parse keeps line numbers for its messages
            return read(content, reader_type)
        if content not in parsed:
            parsed[content] = read(content, reader_type)
        return copy.deepcopy(parsed[content])

    def validate_yaml_schema(yaml_file_content: str, schema_path: str, *args: Any, **kwargs: Any) -> None:
        key = (yaml_file_content, json.dumps([schema_path, args, kwargs], default=str))
        if key not in passed:
            validate(yaml_file_content, schema_path, *args, **kwargs)
            passed.add(key)

    read_yaml._kesher_once = True  # type: ignore[attr-defined]
    rasa_io.read_yaml = read_yaml
    rasa_validation.validate_yaml_schema = validate_yaml_schema


def _name(arguments: Sequence[str]) -> str:
    return " ".join(a for a in arguments[:2] if not a.startswith("-"))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Runs the JSON list of Rasa commands given as the one argument; returns the first failure's status."""
    # Only this child process needs Rasa (~10 s to import): the callers of run_rasa stay light.
    # TensorFlow's `from jax import ...` then raises ImportError, which it catches.
    sys.modules.setdefault("jax", None)  # type: ignore[arg-type]
    import rasa.telemetry  # noqa: PLC0415
    import rasa.utils.io  # noqa: PLC0415
    import rasa.utils.tensorflow.environment as tf_env  # noqa: PLC0415
    from rasa.__main__ import create_argument_parser  # noqa: PLC0415
    from rasa.plugin import plugin_manager  # noqa: PLC0415
    from rasa.shared.exceptions import RasaException  # noqa: PLC0415
    from rasa.utils.common import configure_logging_and_warnings  # noqa: PLC0415
    from rasa.utils.log_utils import configure_structlog  # noqa: PLC0415

    commands: List[List[str]] = json.loads((argv if argv is not None else sys.argv[1:])[0])
    parser = create_argument_parser()
    gc.freeze()
    gc.set_threshold(100_000, 50, 100)
    # As `rasa` itself does before its command: custom components are found from the project folder.
    sys.path.insert(1, str(Path.cwd()))
    tf_env.setup_tf_environment()
    read_each_text_once()
    for index, command in enumerate(commands):
        print(MARKER + " ".join(command), flush=True)
        args = parser.parse_args(command)
        log_level = getattr(args, "loglevel", None)
        if index == 0:
            configure_logging_and_warnings(log_level, getattr(args, "logging_config_file", None),
                                           warn_only_once=True, filter_repeated_logs=True)
            rasa.utils.io.configure_colored_logging(log_level)
            hooks = plugin_manager().hook
            result = hooks.configure_commandline(cmdline_arguments=args)
            endpoints_file = result[0] if result else None
            rasa.telemetry.initialize_telemetry()
            hooks.init_telemetry(endpoints_file=endpoints_file)
            hooks.init_managers(endpoints_file=endpoints_file)
            hooks.init_anonymization_pipeline(endpoints_file=endpoints_file)
            configure_structlog(log_level)
        try:
            args.func(args)
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
            if code:
                return code
        except RasaException as exc:
            print(f"{exc.__class__.__name__}: {exc}", flush=True)
            return 1
        except Exception:  # reported like an uncaught error of `rasa`, and the chain stops
            traceback.print_exc(file=sys.stdout)
            return 1
        sys.stdout.flush()
        sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
