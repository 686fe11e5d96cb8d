"""A real redis-server on a free loopback port, for tests that need Redis."""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import redis

from core.processes import free_port


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
    deadline = time.monotonic() + 15
    try:
        while time.monotonic() < deadline:
            try:
                if client.ping():
                    return RedisServer(port, process)
            except redis.RedisError:
                time.sleep(0.05)
        process.kill()
        raise RuntimeError("redis-server did not start")
    finally:
        client.close()
