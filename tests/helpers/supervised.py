"""``python -m kesher up`` as an operator runs it, from a background shell, and what it left running."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from core.processes import free_port
from core.settings import PROJECT_ROOT, Settings
from tests.helpers.waiting import until_sync

_STARTED = re.compile(r"supervisor: (\S+) started \(pid (\d+)\)(?: on 127\.0\.0\.1:(\d+))?")


def processes_of(var_dir: Path) -> List[int]:
    """Every process on the machine started for this state folder, and the members of their process groups.

    The folder is in their environment or arguments, or is their working folder (redis-server writes its
    title over both, but works in the folder's ``redis/``); nginx's workers, which carry their master's
    title, are in its process group.
    """
    marker = str(var_dir).encode()
    found, groups = set(), {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            groups[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[2])
            if (marker in (entry / "environ").read_bytes() or marker in (entry / "cmdline").read_bytes()
                    or os.readlink(entry / "cwd").startswith(str(var_dir))):
                found.add(int(entry.name))
        except (OSError, ValueError, IndexError):  # gone meanwhile, or someone else's
            continue
    return sorted(found | {pid for pid, group in groups.items() if group in found})


class Up:
    """``kesher up --parts ...`` started the way a background shell starts it: with SIGINT ignored."""

    def __init__(self, folder: Path, parts: Sequence[str], replicas: int = 1, **settings: object) -> None:
        """Starts it on free ports with ``folder``/var as its state folder; :meth:`wait_running` waits for it."""
        self.var_dir = folder / "var"
        self.settings = Settings(var_dir=self.var_dir).with_ports(
            redis=free_port(), rasa=free_port(), actions=free_port(), handoff=free_port(), smtp=free_port(),
            # No late-order scan unless a test asks: it would tell every seeded late order's customer.
            models=free_port()).replace(replicas=replicas, **{"notice_scan_minutes": 0, **settings})
        self.output = folder / "up.out"
        with open(self.output, "wb") as out:
            # `trap "" INT` then exec: what `cmd &` in a non-interactive shell does to SIGINT.
            self.process = subprocess.Popen(
                ["bash", "-c", 'trap "" INT; exec "$0" -m kesher up --parts "$1"', sys.executable, ",".join(parts)],
                cwd=PROJECT_ROOT, env=self.settings.child_env(), stdout=out, stderr=subprocess.STDOUT)

    def text(self) -> str:
        """Everything it printed so far."""
        return self.output.read_text(encoding="utf-8", errors="replace")

    def wait_for(self, pattern: str, timeout: float = 60, after: int = 0) -> re.Match[str]:
        """The first match of ``pattern`` in what it printed (from character ``after``), once it is there."""
        def found() -> Optional[re.Match[str]]:
            assert self.process.poll() is None, f"kesher up exited ({self.process.returncode}):\n{self.text()}"
            return re.compile(pattern).search(self.text(), after)

        match = until_sync(found, what=f"{pattern!r} in the output of kesher up", timeout=timeout, every=0.1)
        assert match is not None
        return match

    def wait_running(self, timeout: float = 240) -> None:
        """Waits until every part answers (it prints the list)."""
        self.wait_for(r"Kesher is running", timeout=timeout)

    def pids(self) -> Dict[str, int]:
        """Each part's latest process id, from the supervisor's lines."""
        return {m.group(1): int(m.group(2)) for m in _STARTED.finditer(self.text())}

    def ports(self) -> Dict[str, int]:
        """Each replica's latest loopback port, from the supervisor's lines."""
        return {m.group(1): int(m.group(3)) for m in _STARTED.finditer(self.text()) if m.group(3)}

    def stop(self) -> None:
        """SIGTERM, then SIGKILL of it and of anything it left (a test that failed half-way)."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in processes_of(self.var_dir):
            try:
                os.kill(pid, 9)
            except OSError:
                pass
