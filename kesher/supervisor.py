"""Runs every part of Kesher on one machine: Redis, SMTP, models, actions, Rasa, the handoff service, the front door.

``make up`` runs it through ``python -m kesher up``. The supervisor
starts each part on loopback, waits until it answers, prints where it
listens, and on Ctrl-C (or SIGTERM) stops them in reverse order. Tests use
:class:`Supervisor` directly, on free ports and a temporary state folder.

Before anything starts, production mode checks the settings (``core/production.py``).
No secret is ever on a part's command line (anyone on the machine can read it):
the parts read their settings from the environment the supervisor gives them,
and ``rasa run`` is started through ``kesher/rasa_server.py``, which hands Rasa
its API secret in Python.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Callable, Dict, List, Optional, Sequence

import redis  # the supervisor is synchronous by design: it only polls

from core.processes import latest_model
from core.production import ProductionRefused, check
from core.rasa_api import api_headers
from core.settings import PROJECT_ROOT, Settings
from kesher.frontdoor import nginx_command, write_config
from kesher.part import PART_MODULES
from writers.model_server import publish

__all__ = ["ALL_PARTS", "Part", "StartupError", "Supervisor"]


class StartupError(RuntimeError):
    """A part did not come up, or production mode refused the settings; the message says which and why."""


def _http_ok(url: str, headers: Optional[Dict[str, str]] = None) -> bool:
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return 200 <= response.status < 300
    except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
        return False


def _redis_ok(settings: Settings) -> bool:
    client = redis.Redis(
        host=settings.redis_host,
        port=settings.redis_port,
        password=settings.redis_password or None,
        socket_timeout=1,
    )
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@dataclass
class Part:
    """One process the supervisor runs."""

    name: str
    command: List[str]
    ready: Callable[[], bool]
    timeout: float
    url: str = ""
    process: Optional[subprocess.Popen[bytes]] = None
    log_path: Optional[Path] = None
    _log: Optional[IO[bytes]] = field(default=None, repr=False)

    def log_tail(self, lines: int = 30) -> str:
        """The last lines the part wrote, for error messages."""
        if self.log_path is None or not self.log_path.exists():
            return ""
        text = self.log_path.read_text(encoding="utf-8", errors="replace")
        return "\n".join(text.splitlines()[-lines:])


def _tcp_ok(port: int, host: str = "127.0.0.1") -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


ALL_PARTS = ("redis", "smtp", "models", "actions", "rasa", "handoff", "frontdoor")
"""Every part, in starting order; ``frontdoor`` (nginx) runs only when ``KESHER_PUBLIC_HOST`` is set."""


class Supervisor:
    """Starts, watches and stops every part, in the order of :data:`ALL_PARTS`."""

    def __init__(
        self,
        settings: Settings,
        model: Optional[Path] = None,
        parts: Sequence[str] = ALL_PARTS,
    ) -> None:
        """Prepares the parts; nothing starts until :meth:`start`.

        Args:
            settings: Ports, paths and secrets.
            model: Model file, or folder of models (the newest is used), that the model
                server publishes for ``rasa run`` at start (default: ``models/``).
            parts: Which of :data:`ALL_PARTS` to run (leave out ``redis`` or
                ``smtp`` when they run elsewhere).
        """
        self.settings = settings
        self.model = model or settings.model_dir
        self.env = settings.child_env()
        self.log_dir = settings.var_dir / "logs"
        builders = {
            "redis": self._redis_part,
            "smtp": self._smtp_part,
            "models": self._models_part,
            "actions": self._actions_part,
            "rasa": self._rasa_part,
            "handoff": self._handoff_part,
            "frontdoor": self._frontdoor_part,
        }
        unknown = set(parts) - set(builders)
        if unknown:
            raise ValueError(f"unknown parts: {sorted(unknown)}")
        wanted = [name for name in builders if name in parts and (name != "frontdoor" or settings.public_host)]
        self.parts: List[Part] = [builders[name]() for name in wanted]

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
            "--appendonly", "no",
            "--protected-mode", "yes",
            # Conversations are lists of JSON events that are appended to and read from the end: LZF-compress
            # every list node but the first and the last (about 2.2x less memory for the same events).
            "--list-compress-depth", "1",
        ]
        if s.redis_password:
            command += ["--requirepass", s.redis_password]
        return Part("redis", command, lambda: _redis_ok(s), 20, f"redis://127.0.0.1:{s.redis_port}")

    def _smtp_part(self) -> Part:
        s = self.settings
        command = [sys.executable, "-m", PART_MODULES["smtpd"]]
        return Part("smtp", command, lambda: _tcp_ok(s.smtp_port), 30, f"smtp://127.0.0.1:{s.smtp_port}")

    def _models_part(self) -> Part:
        s = self.settings
        command = [sys.executable, "-m", PART_MODULES["models"]]
        url = f"http://127.0.0.1:{s.model_server_port}"
        return Part("models", command, lambda: _http_ok(f"{url}/health"), 60, s.model_server_url)

    def _handoff_part(self) -> Part:
        s = self.settings
        command = [sys.executable, "-m", PART_MODULES["handoff"]]
        url = s.handoff_url
        return Part("handoff", command, lambda: _http_ok(f"{url}/health"), 60, f"{url}/console")

    def _actions_part(self) -> Part:
        s = self.settings
        command = [sys.executable, "-m", PART_MODULES["actions"]]
        url = s.action_server_url.removesuffix("/webhook")
        return Part("actions", command, lambda: _http_ok(f"{url}/health"), 120, s.action_server_url)

    def _rasa_part(self) -> Part:
        s = self.settings
        # `rasa run` on loopback only, its API secret passed in Python (kesher/rasa_server.py):
        # nothing secret in this command line, which anyone on the machine can read.
        command = [sys.executable, "-m", PART_MODULES["rasa"]]
        url = f"http://127.0.0.1:{s.rasa_port}"
        # /status answers only once a model is loaded; a signed JWT in a header, never a token in the URL.
        ready = lambda: _http_ok(f"{url}/status", api_headers(s.rasa_api_token))  # noqa: E731
        return Part("rasa", command, ready, 300, url)

    def _frontdoor_part(self) -> Part:
        """Nginx in the foreground: TLS on the public port, only the public routes passed on."""
        s = self.settings
        command = nginx_command(s, write_config(s))
        host = "127.0.0.1" if s.public_bind in ("0.0.0.0", "::", "[::]") else s.public_bind.strip("[]")
        ready = lambda: _tcp_ok(s.public_port, host)  # noqa: E731
        return Part("frontdoor", command, ready, 30, s.public_url)

    def start(self) -> None:
        """Starts every part in order and waits until each answers.

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
        if any(part.name == "models" for part in self.parts):
            self.publish_model()
        try:
            for part in self.parts:
                self._start_part(part)
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

    def _start_part(self, part: Part) -> None:
        part.log_path = self.log_dir / f"{part.name}.log"
        part._log = open(part.log_path, "ab")
        part.process = subprocess.Popen(
            part.command,
            cwd=PROJECT_ROOT,
            env=self.env,
            stdout=part._log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches the supervisor, which stops parts in order
        )
        deadline = time.monotonic() + part.timeout
        while time.monotonic() < deadline:
            if part.process.poll() is not None:
                raise StartupError(
                    f"{part.name} exited with code {part.process.returncode}:\n{part.log_tail()}"
                )
            if part.ready():
                return
            time.sleep(0.3)
        raise StartupError(f"{part.name} did not answer within {part.timeout:.0f} s:\n{part.log_tail()}")

    def stop(self, grace: float = 15.0) -> None:
        """Stops the parts in reverse order: SIGTERM, then SIGKILL after ``grace``."""
        for part in reversed(self.parts):
            proc = part.process
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if part._log is not None:
                part._log.close()
                part._log = None

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
            part.process.terminate()
            part.process.wait(timeout=15)
        if part._log is not None:
            part._log.close()
        self._start_part(part)

    def failed_part(self) -> Optional[Part]:
        """A part that has exited since it started, if any."""
        return next((p for p in self.parts if p.process and p.process.poll() is not None), None)

    def __enter__(self) -> Supervisor:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
