"""Runs every part of Kesher on one machine: Redis, SMTP, models, actions, Rasa, the handoff service, nginx.

``make up`` runs it through ``python -m kesher up`` (:meth:`Supervisor.run`). The
supervisor starts each part on loopback, waits until it answers, prints where it
listens, then watches: a part that dies (any exit, ``kill -9``) is started again
after a wait that doubles from 1 s to 30 s (back to 1 s once it has stayed up a
minute), with one log line each time, while the others keep serving. A part that
keeps dying before it answers is reported with the end of its log. SIGINT and
SIGTERM (handled explicitly: a shell that runs it in the background hands it
SIGINT ignored) stop the parts in reverse order.

Nothing outlives the supervisor. Each part runs in its own process group (its
own children, nginx's workers among them, are stopped with it), and asks Linux
to signal it when the supervisor dies (``prctl(PR_SET_PDEATHSIG)``, set in the
child before it runs the part's program), so even a supervisor killed with
SIGKILL takes its parts along.

With ``KESHER_REPLICAS`` = N > 1, ``rasa run``, the action server and the
handoff service run N times each, on free loopback ports, and nginx (the part
``frontdoor``) listens on their usual ports and balances over the replicas that
are up and warm: the supervisor rewrites nginx's list of servers and reloads it
(SIGHUP) whenever a replica becomes ready, dies or comes back. ``rasa run``
replicas reach the action servers through it too.

For Prometheus, the supervisor keeps a file_sd target file
(``$KESHER_VAR_DIR/prometheus/kesher-targets.json``, :data:`TARGETS_FILE`): one
target per running part that serves ``/metrics`` (the model server, each action
server, ``rasa run`` and handoff service replica, on the port it really listens
on), labelled ``part`` and ``replica``. It is rewritten (atomically) whenever a
part starts, dies or comes back on a new port, and emptied when the supervisor
stops, so Prometheus scrapes every replica, not whichever one nginx picks.

Tests use :class:`Supervisor` directly (:meth:`start`, :meth:`stop`), on free
ports and a temporary state folder. Before anything starts, production mode
checks the settings (``core/production.py``). No secret is ever on a part's
command line (anyone on the machine can read it): the parts read their settings
from the environment the supervisor gives them, and ``rasa run`` is started
through ``kesher/rasa_server.py``, which hands Rasa its API secret in Python.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import IO, Callable, Dict, List, Optional, Sequence, Tuple

import redis  # the supervisor is synchronous by design: it only polls

from core.processes import free_port, latest_model
from core.production import ProductionRefused, check
from core.rasa_api import api_headers
from core.settings import PROJECT_ROOT, Settings
from handoff.redis_client import RedisAddress, sync_redis
from kesher.frontdoor import BALANCED, frontdoor_dir, nginx_command, usual_port, write_config, write_upstreams
from kesher.part import PART_MODULES
from writers.model_server import publish

__all__ = ["ALL_PARTS", "METRICS_PARTS", "TARGETS_FILE", "Part", "StartupError", "Supervisor"]

ALL_PARTS = ("redis", "smtp", "models", "actions", "rasa", "handoff", "frontdoor")
"""Every part, in starting order. ``frontdoor`` (nginx) runs when ``KESHER_PUBLIC_HOST`` is set (the TLS
front door) or ``KESHER_REPLICAS`` > 1 (the loopback balancer in front of the replicas)."""

METRICS_PARTS = ("models", "actions", "rasa", "handoff")
"""The parts that serve Prometheus metrics at ``/metrics`` on their own loopback listener."""
TARGETS_FILE = Path("prometheus") / "kesher-targets.json"
"""Where, under ``KESHER_VAR_DIR``, the supervisor keeps Prometheus's file_sd list of those parts."""

FIRST_WAIT = 1.0
"""Seconds before a part that died is started again the first time; each failure in a row doubles it."""
LONGEST_WAIT = 30.0
"""The longest wait between two tries."""
STABLE_SECONDS = 60.0
"""A part that has answered this long is healthy again: its next failure waits :data:`FIRST_WAIT`."""
CRASH_REPORT = 5
"""Failures in a row before answering after which a part is reported as crashing at start."""
_TICK = 0.2

_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True) if sys.platform == "linux" else None


class StartupError(RuntimeError):
    """A part did not come up, or production mode refused the settings; the message says which and why."""


class _StopRequested(Exception):
    """SIGINT or SIGTERM arrived while the supervisor was starting the parts."""


def _http_ok(url: str, headers: Optional[Dict[str, str]] = None) -> bool:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _redis_ok(settings: Settings) -> bool:
    # The one client factory: with REDIS_SENTINELS this asks the sentinels for the primary.
    client = sync_redis(RedisAddress.from_settings(settings), socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


def _tcp_ok(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


# What a warm-up parse asks each language: the first parse of a fresh `rasa run` is much slower than the next.
_WARM_UP_TEXTS = ("where is my order?", "איפה ההזמנה שלי?")


def _rasa_ready(url: str, api_secret: str) -> Callable[[], bool]:
    """``rasa run`` is ready once ``/status`` answers (a model is loaded) and it has parsed one message per language."""

    def ready() -> bool:
        if not _http_ok(f"{url}/status", api_headers(api_secret)):
            return False
        for text in _WARM_UP_TEXTS:
            request = urllib.request.Request(
                f"{url}/model/parse", data=json.dumps({"text": text}).encode(), method="POST",
                headers={**api_headers(api_secret), "Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=60) as response:
                    if response.status != 200:
                        return False
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                return False
        return True

    return ready


def _exit_reason(code: int) -> str:
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with code {code}"


def _child_setup(death_signal: int, supervisor_pid: int) -> None:
    """Runs in the child between fork and exec: default signal handling, and death with the supervisor."""
    # A background shell hands its children SIGINT ignored, and an ignored signal stays ignored across exec.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
        signal.signal(sig, signal.SIG_DFL)
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, death_signal, 0, 0, 0)
    if os.getppid() != supervisor_pid:  # the supervisor died before the line above: no signal will come
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass
class Part:
    """One process the supervisor runs, and what the supervisor knows about it."""

    name: str
    command: List[str]
    ready: Callable[[], bool]
    timeout: float
    url: str = ""
    kind: str = ""
    """Which of :data:`ALL_PARTS` this is (``name`` is ``rasa-2`` for the second replica of ``rasa``)."""
    port: int = 0
    """The free loopback port a replica listens on (0: the part's own port from the settings)."""
    env: Optional[Dict[str, str]] = None
    death_signal: int = signal.SIGKILL
    """What Linux sends the part when the supervisor dies: SIGKILL, or SIGTERM for parts that must shut down
    cleanly to take their own children along (nginx's workers) or keep their data (Redis)."""
    process: Optional[subprocess.Popen[bytes]] = None
    log_path: Optional[Path] = None
    state: str = "stopped"
    """``stopped``, ``starting`` (running, not answering yet), ``ready`` or ``waiting`` (died, to be started again)."""
    started_at: float = 0.0
    ready_at: float = 0.0
    next_try: float = 0.0
    failures: int = 0
    """Failures in a row since it last stayed up :data:`STABLE_SECONDS`; the next wait doubles with each."""
    failed_starts: int = 0
    """Failures in a row before answering at all."""
    _log: Optional[IO[bytes]] = field(default=None, repr=False)
    _configure: Optional[Callable[[Part], None]] = field(default=None, repr=False)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the part wrote, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])

    @property
    def pid(self) -> Optional[int]:
        """The process id of the running part, if it runs."""
        return self.process.pid if self.process is not None and self.process.poll() is None else None


def _print_log(line: str) -> None:
    print(f"{datetime.now():%H:%M:%S} supervisor: {line}", file=sys.stderr, flush=True)


class Supervisor:
    """Starts, watches, heals and stops every part, in the order of :data:`ALL_PARTS`."""

    def __init__(
        self,
        settings: Settings,
        model: Optional[Path] = None,
        parts: Sequence[str] = ALL_PARTS,
        log: Callable[[str], None] = _print_log,
    ) -> None:
        """Prepares the parts; nothing starts until :meth:`start`.

        Args:
            settings: Ports, paths, secrets and ``replicas``.
            model: Model file, or folder of models (the newest is used), that the model
                server publishes for ``rasa run`` at start (default: ``models/``).
            parts: Which of :data:`ALL_PARTS` to run (leave out ``redis`` or
                ``smtp`` when they run elsewhere). With ``REDIS_SENTINELS`` set, ``redis``
                is always left out: the sentinels name the primary, which runs elsewhere.
            log: Where the supervisor's own lines go (parts that die, come back, enter
                the balancer); default: stderr with the time.
        """
        self.settings = settings
        self.model = model or settings.model_dir
        self.env = settings.serving_env()
        self.log_dir = settings.var_dir / "logs"
        self.log = log
        unknown = set(parts) - set(ALL_PARTS)
        if unknown:
            raise ValueError(f"unknown parts: {sorted(unknown)}")
        if settings.redis_sentinels and "redis" in parts:
            parts = tuple(p for p in parts if p != "redis")
            self.log(f"REDIS_SENTINELS is set: not starting a redis-server; the sentinels "
                     f"({settings.redis_sentinels}) name the primary")
        self.redis_elsewhere = bool(settings.redis_sentinels)
        """True when the sentinels' Redis is used instead of a redis-server of the supervisor's own."""
        replicated = settings.replicas > 1
        self.balanced: Tuple[str, ...] = tuple(k for k in BALANCED if k in parts) if replicated else ()
        """The parts that run as replicas behind nginx."""
        builders: Dict[str, Callable[[], Part]] = {
            "redis": self._redis_part,
            "smtp": self._smtp_part,
            "models": self._models_part,
            "actions": self._actions_part,
            "rasa": self._rasa_part,
            "handoff": self._handoff_part,
            "frontdoor": self._frontdoor_part,
        }
        self.parts: List[Part] = []
        for kind in ALL_PARTS:
            if kind not in parts or (kind == "frontdoor" and not (settings.public_host or self.balanced)):
                continue
            if kind in self.balanced:
                for number in range(1, settings.replicas + 1):
                    replica = builders[kind]()
                    replica.name, replica._configure = f"{kind}-{number}", self._configure_replica
                    self.parts.append(replica)
            else:
                self.parts.append(builders[kind]())
        self.first_wait, self.longest_wait = FIRST_WAIT, LONGEST_WAIT
        self._stop_signal = 0
        self._upstreams_written: Optional[Dict[str, List[int]]] = None
        self._upstreams_loaded: Optional[Dict[str, List[int]]] = None
        self.targets_path = settings.var_dir / TARGETS_FILE
        """Prometheus's file_sd list of the parts that serve ``/metrics`` (see the module docstring)."""
        self._targets_written: Optional[List[Dict[str, object]]] = None

    # -- the parts --------------------------------------------------------------------------------------------
    def _redis_part(self) -> Part:
        s = self.settings
        data_dir = s.var_dir / "redis"
        data_dir.mkdir(parents=True, exist_ok=True)
        command = [
            shutil.which("redis-server") or "/usr/bin/redis-server",
            "--bind", "127.0.0.1",
            "--port", str(s.redis_port),
            "--dir", str(data_dir),
            "--save", "60 1",
            # What `make up` promises: every write is in the append-only file, fsynced once a second, so a
            # kill -9 (or a power cut) loses at most the last second; the RDB snapshot stays for backups.
            "--appendonly", "yes",
            "--appendfsync", "everysec",
            "--protected-mode", "yes",
            # Conversations are lists of JSON events that are appended to and read from the end: LZF-compress
            # every list node but the first and the last (about 2.2x less memory for the same events).
            "--list-compress-depth", "1",
        ]
        if s.redis_password:
            command += ["--requirepass", s.redis_password]
        return Part("redis", command, lambda: _redis_ok(s), 20, f"redis://127.0.0.1:{s.redis_port}", kind="redis",
                    death_signal=signal.SIGTERM)

    def _smtp_part(self) -> Part:
        s = self.settings
        command = [sys.executable, "-m", PART_MODULES["smtpd"]]
        return Part("smtp", command, lambda: _tcp_ok(s.smtp_port), 30, f"smtp://127.0.0.1:{s.smtp_port}", kind="smtp")

    def _models_part(self) -> Part:
        s = self.settings
        command = [sys.executable, "-m", PART_MODULES["models"]]
        url = f"http://127.0.0.1:{s.model_server_port}"
        return Part("models", command, lambda: _http_ok(f"{url}/health"), 60, s.model_server_url, kind="models")

    def _handoff_part(self, port: int = 0) -> Part:
        url = f"http://127.0.0.1:{port or self.settings.handoff_port}"
        command = [sys.executable, "-m", PART_MODULES["handoff"]]
        return Part("handoff", command, lambda: _http_ok(f"{url}/health"), 60, f"{url}/console", kind="handoff",
                    port=port)

    def _actions_part(self, port: int = 0) -> Part:
        s = self.settings
        url = s.replace(actions_port=port).action_server_url if port else s.action_server_url
        base = url.removesuffix("/webhook")
        command = [sys.executable, "-m", PART_MODULES["actions"]]
        return Part("actions", command, lambda: _http_ok(f"{base}/health"), 120, url, kind="actions", port=port)

    def _rasa_part(self, port: int = 0) -> Part:
        s = self.settings
        # `rasa run` on loopback only, its API secret passed in Python (kesher/rasa_server.py):
        # nothing secret in this command line, which anyone on the machine can read.
        command = [sys.executable, "-m", PART_MODULES["rasa"]]
        url = f"http://127.0.0.1:{port or s.rasa_port}"
        # /status answers only once a model is loaded; a signed JWT in a header, never a token in the URL.
        return Part("rasa", command, _rasa_ready(url, s.rasa_api_token), 300, url, kind="rasa", port=port)

    def _configure_replica(self, part: Part) -> None:
        """Gives a replica a fresh free port before each start (the old one may have been taken meanwhile)."""
        port = free_port()
        fresh = {"rasa": self._rasa_part, "actions": self._actions_part, "handoff": self._handoff_part}[part.kind](port)
        part.port, part.ready, part.url = port, fresh.ready, fresh.url
        part.env = self.settings.replace(**{f"{part.kind}_port": port}).serving_env()

    def _frontdoor_part(self) -> Part:
        """Nginx in the foreground: the TLS front door, the loopback balancer in front of the replicas, or both."""
        s = self.settings
        if s.public_host:
            host = "127.0.0.1" if s.public_bind in ("0.0.0.0", "::", "[::]") else s.public_bind.strip("[]")
            ports = [(host, s.public_port)]
        else:
            ports = []
        ports += [("127.0.0.1", usual_port(s, kind)) for kind in self.balanced]
        ready = lambda: all(_tcp_ok(port, host) for host, port in ports)  # noqa: E731
        command = nginx_command(s, frontdoor_dir(s) / "nginx.conf")
        url = s.public_url if s.public_host else ", ".join(f"http://127.0.0.1:{p}" for _, p in ports)
        return Part("frontdoor", command, ready, 30, url, kind="frontdoor", death_signal=signal.SIGTERM)

    # -- starting -------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Starts every part in order (the replicas of one part together) and waits until each answers.

        Raises:
            StartupError: Production mode refuses the settings (before anything
                starts; the message names each problem), or a part exited or did
                not answer in time (the ones already running are stopped).
        """
        try:
            check(self.settings)
        except ProductionRefused as exc:
            raise StartupError(str(exc)) from exc
        self.log_dir.mkdir(parents=True, exist_ok=True)
        if any(part.kind == "models" for part in self.parts):
            self.publish_model()
        try:
            for kind in ALL_PARTS:
                group = [part for part in self.parts if part.kind == kind]
                for part in group:
                    self._spawn(part)
                self._wait_ready(group)
        except BaseException:
            self.stop()
            raise

    def publish_model(self) -> None:
        """Publishes the model given to the supervisor, which ``rasa run`` then pulls.

        Raises:
            StartupError: There is no trained model.
        """
        model = self.model if self.model.is_file() else latest_model(self.model)
        if model is None:
            raise StartupError(f"no trained model in {self.model}; run `python -m kesher train`")
        publish(model, self.settings.published_dir)

    def _spawn(self, part: Part) -> None:
        """Starts the part's process (its own process group, death with the supervisor); does not wait."""
        if part._configure is not None:
            part._configure(part)
        if part.kind == "frontdoor":
            self._upstreams_loaded = self._write_upstreams()
            write_config(self.settings, self.balanced, self._upstreams_loaded)
        if part._log is not None:
            part._log.close()
        part.log_path = self.log_dir / f"{part.name}.log"
        part._log = open(part.log_path, "ab")
        # The death signal is tied to the thread that forks: only the main thread lives as long as the supervisor.
        in_main_thread = threading.current_thread() is threading.main_thread()
        death_signal, supervisor_pid = part.death_signal, os.getpid()
        part.process = subprocess.Popen(
            part.command,
            cwd=PROJECT_ROOT,
            env=part.env or self.env,
            stdout=part._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: Ctrl-C reaches only the supervisor, which stops parts
            preexec_fn=(lambda: _child_setup(death_signal, supervisor_pid)) if in_main_thread else None,
        )
        part.state, part.started_at = "starting", time.monotonic()
        where = f" on 127.0.0.1:{part.port}" if part.port else ""
        self.log(f"{part.name} started (pid {part.process.pid}){where}")
        self._write_targets()

    def _wait_ready(self, group: Sequence[Part]) -> None:
        waiting = list(group)
        while waiting:
            if self._stop_signal:
                raise _StopRequested
            for part in list(waiting):
                assert part.process is not None
                if part.process.poll() is not None:
                    raise StartupError(
                        f"{part.name} {_exit_reason(part.process.returncode)}:\n{part.log_tail()}")
                if part.ready():
                    self._mark_ready(part)
                    waiting.remove(part)
                elif time.monotonic() - part.started_at > part.timeout:
                    raise StartupError(f"{part.name} did not answer within {part.timeout:.0f} s:\n{part.log_tail()}")
            if waiting:
                time.sleep(0.3)

    def _mark_ready(self, part: Part) -> None:
        part.state, part.ready_at, part.failed_starts = "ready", time.monotonic(), 0
        took = part.ready_at - part.started_at
        self.log(f"{part.name} is ready (pid {part.pid}, {took:.1f} s after it started): {part.url}")

    # -- watching and healing --------------------------------------------------------------------------------
    def tick(self) -> None:
        """One look at every part; :meth:`run` calls it a few times a second.

        Notes the parts that died or became ready, starts the ones whose wait is over, and brings
        nginx's list of replicas up to date.
        """
        now = time.monotonic()
        for part in self.parts:
            if part.state in ("starting", "ready"):
                assert part.process is not None
                if part.process.poll() is not None:
                    self._died(part, _exit_reason(part.process.returncode), now)
                elif part.state == "starting":
                    if part.ready():
                        self._mark_ready(part)
                    elif now - part.started_at > part.timeout:
                        self._kill_group(part, signal.SIGKILL)
                        part.process.wait()
                        self._died(part, f"did not answer within {part.timeout:.0f} s", now)
                elif part.failures and now - part.ready_at >= STABLE_SECONDS:
                    part.failures = 0
            elif part.state == "waiting" and now >= part.next_try:
                self._spawn(part)
        self._update_balancer()

    def _died(self, part: Part, reason: str, now: float) -> None:
        self._kill_group(part, signal.SIGKILL)  # its own children (nginx's workers) must not hold its port
        if part.state == "ready" and now - part.ready_at >= STABLE_SECONDS:
            part.failures = 0
        if part.state == "starting":
            part.failed_starts += 1
        wait = min(self.first_wait * 2 ** part.failures, self.longest_wait)
        part.failures += 1
        part.state, part.next_try = "waiting", now + wait
        self._write_targets()
        pid = part.process.pid if part.process is not None else "?"
        self.log(f"{part.name} (pid {pid}) {reason}; next try in {wait:g} s")
        if part.failed_starts == CRASH_REPORT:
            self.log(f"{part.name} keeps crashing at start ({part.failed_starts} times in a row); trying again "
                     f"every {self.longest_wait:g} s at most. The end of {part.log_path}:\n{part.log_tail()}")

    def _desired_upstreams(self) -> Dict[str, List[int]]:
        upstreams: Dict[str, List[int]] = {}
        for kind in BALANCED:
            if kind in self.balanced:
                upstreams[kind] = [p.port for p in self.parts if p.kind == kind and p.state == "ready"]
            else:
                upstreams[kind] = [usual_port(self.settings, kind)]
        return upstreams

    def _write_upstreams(self) -> Dict[str, List[int]]:
        upstreams = self._desired_upstreams()
        if upstreams != self._upstreams_written:
            frontdoor_dir(self.settings).mkdir(parents=True, exist_ok=True)
            write_upstreams(self.settings, upstreams)
            self._upstreams_written = upstreams
        return upstreams

    def metrics_targets(self) -> List[Dict[str, object]]:
        """Prometheus's file_sd groups: one per running part that serves ``/metrics``, labelled part and replica.

        A running part is one started and not dead (``starting`` or ``ready``): a replica's port changes each time
        it is started again, so a dead one is left out until it runs again on its new port.
        """
        s = self.settings
        usual = {"models": s.model_server_port, "actions": s.actions_port, "rasa": s.rasa_port,
                 "handoff": s.handoff_port}
        groups: List[Dict[str, object]] = []
        for part in self.parts:
            if part.kind not in METRICS_PARTS or part.state not in ("starting", "ready"):
                continue
            replica = part.name.rpartition("-")[2] if part.name != part.kind else "1"
            groups.append({"targets": [f"127.0.0.1:{part.port or usual[part.kind]}"],
                           "labels": {"part": part.kind, "replica": replica}})
        return groups

    def _write_targets(self) -> None:
        """Rewrites the target file when the running parts changed (a new file moved into place: never half-read)."""
        targets = self.metrics_targets()
        if targets == self._targets_written:
            return
        self.targets_path.parent.mkdir(parents=True, exist_ok=True)
        fresh = self.targets_path.with_suffix(".tmp")
        fresh.write_text(json.dumps(targets, indent=2) + "\n", encoding="utf-8")
        os.replace(fresh, self.targets_path)
        self._targets_written = targets

    def _update_balancer(self) -> None:
        """Rewrites nginx's list of replicas when it changed, and reloads nginx once it runs."""
        if not self.balanced:
            return
        upstreams = self._write_upstreams()
        door = next((p for p in self.parts if p.kind == "frontdoor"), None)
        # Before nginx has set up its own signal handlers, SIGHUP would end it: reload only a ready nginx.
        if door is None or door.state != "ready" or upstreams == self._upstreams_loaded:
            return
        assert door.process is not None
        door.process.send_signal(signal.SIGHUP)
        before, self._upstreams_loaded = self._upstreams_loaded or {}, upstreams
        changes = [f"{kind}: {', '.join(map(str, upstreams[kind])) or 'none'}" for kind in self.balanced
                   if upstreams[kind] != before.get(kind)]
        self.log(f"nginx reloaded, ready replicas' ports: {'; '.join(changes)}")

    def run(self, on_ready: Callable[[], None] = lambda: None) -> int:
        """Starts every part, heals them until SIGINT or SIGTERM, then stops them (what ``make up`` runs).

        Installs its own handlers for both signals: a shell that runs a command in the background hands it
        SIGINT ignored, and Python then never raises KeyboardInterrupt.

        Args:
            on_ready: Called once every part answers (prints the addresses).

        Returns:
            0 after a signal stopped it; 1 when a part did not start (the reason is printed).
        """
        handled = (signal.SIGINT, signal.SIGTERM)
        previous = {sig: signal.signal(sig, self._on_signal) for sig in handled}
        try:
            try:
                self.start()
            except StartupError as exc:
                print(f"Could not start Kesher: {exc}", file=sys.stderr, flush=True)
                return 1
            on_ready()
            while not self._stop_signal:
                self.tick()
                time.sleep(_TICK)
            return 0
        except _StopRequested:
            return 0
        finally:
            if self._stop_signal:
                self.log(f"{signal.Signals(self._stop_signal).name}: stopping every part")
            for sig in handled:  # a second Ctrl-C must not cut the stop short
                signal.signal(sig, signal.SIG_IGN)
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _on_signal(self, signum: int, frame: Optional[FrameType]) -> None:
        self._stop_signal = signum

    # -- stopping -------------------------------------------------------------------------------------------
    @staticmethod
    def _kill_group(part: Part, sig: int) -> None:
        if part.process is None:
            return
        try:
            os.killpg(part.process.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass

    def stop(self, grace: float = 15.0) -> None:
        """Stops the parts in reverse order, the replicas of one part together.

        SIGTERM to each part's process group, SIGKILL after ``grace`` seconds; then SIGKILL to
        whatever is left in the groups (a part's own children).
        """
        for kind in reversed(ALL_PARTS):
            group = [p for p in self.parts if p.kind == kind]
            running = [p for p in group if p.process is not None and p.process.poll() is None]
            for part in running:
                self._kill_group(part, signal.SIGTERM)
            deadline = time.monotonic() + grace
            for part in running:
                assert part.process is not None
                try:
                    part.process.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self.log(f"{part.name} (pid {part.process.pid}) did not stop within {grace:.0f} s: SIGKILL")
                    self._kill_group(part, signal.SIGKILL)
                    part.process.wait()
                self.log(f"{part.name} (pid {part.process.pid}) stopped")
            for part in group:
                self._kill_group(part, signal.SIGKILL)
                part.state = "stopped"
                if part._log is not None:
                    part._log.close()
                    part._log = None
        if self._targets_written:  # nothing to scrape any more (a supervisor that never started wrote nothing)
            self._write_targets()

    def part(self, name: str) -> Part:
        """The part called ``name``.

        Raises:
            KeyError: The supervisor does not run such a part.
        """
        for part in self.parts:
            if part.name == name:
                return part
        raise KeyError(name)

    def restart(self, name: str) -> None:
        """Starts a part again after it stopped (or was killed), and waits until it answers."""
        part = self.part(name)
        if part.process is not None and part.process.poll() is None:
            self._kill_group(part, signal.SIGTERM)
            part.process.wait(timeout=15)
        self._kill_group(part, signal.SIGKILL)
        self._spawn(part)
        self._wait_ready([part])
        self._update_balancer()

    def failed_part(self) -> Optional[Part]:
        """A part that has exited since it started, if any."""
        return next((p for p in self.parts if p.process and p.process.poll() is not None), None)

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
