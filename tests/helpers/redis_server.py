"""A real redis-server on a free loopback port, for tests that need Redis."""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import redis

from core.processes import free_port
from tests.helpers.waiting import until_sync


@dataclass
class RedisServer:
    """A running redis-server the tests own."""

    port: int
    process: subprocess.Popen[bytes]

    def flush(self) -> None:
        client = redis.Redis(port=self.port)
        try:
            client.flushall()
        finally:
            client.close()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


def start_redis(data_dir: Path, port: Optional[int] = None) -> RedisServer:
    """Starts redis-server (Debian's) without persistence and waits for PING."""
    port = port or free_port()
    binary = shutil.which("redis-server") or "/usr/bin/redis-server"
    process = subprocess.Popen(
        [binary, "--bind", "127.0.0.1", "--port", str(port), "--dir", str(data_dir),
         "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = redis.Redis(port=port, socket_timeout=1)

    def answers() -> bool:
        if process.poll() is not None:
            raise RuntimeError(f"redis-server exited with {process.returncode}")
        try:
            return bool(client.ping())
        except redis.RedisError:
            return False

    try:
        until_sync(answers, what=f"redis-server on port {port} to answer PING", timeout=15, every=0.05)
    except AssertionError:
        process.kill()
        raise
    finally:
        client.close()
    return RedisServer(port, process)
