"""A real PostgreSQL server (Debian's ``postgresql``) on a free loopback port, for tests and benchmarks.

PostgreSQL refuses to run as root: when the tests run as root (CI does), the cluster's
folder is given to the ``postgres`` user that Debian's package creates, and the server
runs as that user. Clients connect over TCP on loopback with ``trust`` authentication,
which only this throw-away cluster uses.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional

from core.processes import free_port
from tests.helpers.waiting import until_sync

__all__ = ["PostgresServer", "postgres_available", "start_postgres"]


def _bin_dir() -> Optional[Path]:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))
    return Path(found[-1]).parent if found else None


def postgres_available() -> bool:
    """Whether Debian's PostgreSQL server binaries are installed."""
    return _bin_dir() is not None


@dataclass
class PostgresServer:
    """A running PostgreSQL cluster the tests own."""

    port: int
    data_dir: Path
    bin_dir: Path
    user: Optional[str]
    process: subprocess.Popen[bytes]

    def url(self, database: str = "postgres") -> str:
        """SQLAlchemy URL of ``database`` on this server (psycopg2)."""
        return f"postgresql+psycopg2://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str) -> str:
        """Creates ``name`` and returns its SQLAlchemy URL."""
        self._psql(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def _psql(self, sql: str) -> None:
        psql = shutil.which("psql") or str(self.bin_dir / "psql")
        subprocess.run([psql, "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres", "-d", "postgres",
                        "-v", "ON_ERROR_STOP=1", "-c", sql], check=True, capture_output=True)

    def stop(self) -> None:
        """Stops the server (fast shutdown: open sessions are ended, as in an outage) and waits for it."""
        if self.process.poll() is None:
            # pg_ctl signals the postmaster itself: a signal to runuser would not end the sessions' backends,
            # and a backend left running keeps the shared memory that a restart needs.
            subprocess.run(_as_user(self.user, [str(self.bin_dir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast",
                                                "-w", "-t", "30", "stop"]), capture_output=True)
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def remove(self) -> None:
        """Stops the server and deletes its folder."""
        self.stop()
        shutil.rmtree(self.data_dir.parent, ignore_errors=True)

    def restart(self) -> None:
        """Starts the server again on the same port and folder (after :meth:`stop`)."""
        self.process = _launch(self.bin_dir, self.data_dir, self.port, self.user)
        _wait_ready(self)


def _as_user(user: Optional[str], command: List[str]) -> List[str]:
    return ["runuser", "-u", user, "--", *command] if user else command


def _launch(bin_dir: Path, data_dir: Path, port: int, user: Optional[str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        _as_user(user, [str(bin_dir / "postgres"), "-D", str(data_dir), "-p", str(port),
                        "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={data_dir}",
                        "-c", "fsync=off", "-c", "full_page_writes=off"]),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _wait_ready(server: PostgresServer) -> None:
    ready = str(server.bin_dir / "pg_isready")

    def answers() -> bool:
        if server.process.poll() is not None:
            raise RuntimeError(f"postgres exited with {server.process.returncode}")
        return subprocess.run([ready, "-h", "127.0.0.1", "-p", str(server.port), "-q"]).returncode == 0

    until_sync(answers, what=f"postgres on port {server.port}", timeout=60, every=0.1)


def start_postgres(port: Optional[int] = None) -> PostgresServer:
    """Creates a cluster in a new folder under the system's temporary folder and starts it on a free loopback port.

    The folder is not pytest's ``tmp_path``: that one sits below a root-only folder the
    ``postgres`` user cannot enter. :meth:`PostgresServer.remove` stops the server and deletes it.

    Raises:
        RuntimeError: PostgreSQL is not installed (``make test`` installs Debian's ``postgresql``).
    """
    bin_dir = _bin_dir()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (make install does)")
    port = port or free_port()
    base_dir = Path(tempfile.mkdtemp(prefix="kesher-pg-"))
    data_dir = base_dir / "pgdata"
    data_dir.mkdir(parents=True)
    user: Optional[str] = None
    if os.geteuid() == 0:
        user = "postgres"
        entry = pwd.getpwnam(user)
        for path in (base_dir, data_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
        base_dir.chmod(0o755)
    subprocess.run(_as_user(user, [str(bin_dir / "initdb"), "-D", str(data_dir), "-U", "postgres",
                                   "--auth=trust", "-E", "UTF8", "--locale=C.UTF-8"]),
                   check=True, capture_output=True)
    server = PostgresServer(port, data_dir, bin_dir, user, _launch(bin_dir, data_dir, port, user))
    try:
        _wait_ready(server)
    except BaseException:
        server.process.kill()
        raise
    return server
