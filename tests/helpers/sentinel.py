"""A Redis primary, its replica and three sentinels on free loopback ports (Debian's redis-server).

The sentinels are ``redis-server <conf> --sentinel`` (what Debian's ``redis-sentinel`` package runs);
they declare the primary down after 1 s without an answer, so a failover takes a few seconds.
Both data nodes keep an append-only file with ``appendfsync everysec``, as ``make up`` configures Redis.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import List

import redis

from core.processes import free_port
from tests.helpers.waiting import until_sync

MASTER = "kesher"
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000


def _binary() -> str:
    return shutil.which("redis-server") or "/usr/bin/redis-server"


def _answers(port: int) -> bool:
    client = redis.Redis(port=port, socket_timeout=1)
    try:
        return bool(client.ping())
    except redis.RedisError:
        return False
    finally:
        client.close()


@dataclass
class SentinelCluster:
    """The running nodes; ``primary_port`` is the one the sentinels were first told about."""

    folder: Path
    primary_port: int
    replica_port: int
    sentinel_ports: List[int]
    processes: List[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def sentinels(self) -> str:
        """``REDIS_SENTINELS`` for these sentinels."""
        return ",".join(f"127.0.0.1:{port}" for port in self.sentinel_ports)

    def primary_now(self) -> int:
        """The port of the primary the sentinels name now."""
        client = redis.Redis(port=self.sentinel_ports[0], socket_timeout=1, decode_responses=True)
        try:
            _, port = client.execute_command("SENTINEL", "get-master-addr-by-name", MASTER)
            return int(port)
        finally:
            client.close()

    def kill_primary(self) -> None:
        """kill -9 of the first primary's process."""
        self.processes[0].kill()
        self.processes[0].wait(timeout=10)

    def stop(self) -> None:
        """Stops every node still running."""
        for process in self.processes:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)


def _data_node(folder: Path, port: int, *extra: str) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen(
        [_binary(), "--bind", "127.0.0.1", "--port", str(port), "--dir", str(folder), "--save", "",
         "--appendonly", "yes", "--appendfsync", "everysec", *extra],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _sentinel(folder: Path, port: int, primary_port: int) -> subprocess.Popen[bytes]:
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "sentinel.conf"  # the sentinel rewrites it with what it learns
    conf.write_text(
        f"bind 127.0.0.1\nport {port}\ndir {folder}\n"
        f"sentinel monitor {MASTER} 127.0.0.1 {primary_port} 2\n"
        f"sentinel down-after-milliseconds {MASTER} {DOWN_AFTER_MS}\n"
        f"sentinel failover-timeout {MASTER} {FAILOVER_TIMEOUT_MS}\n"
        f"sentinel parallel-syncs {MASTER} 1\n")
    return subprocess.Popen([_binary(), str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def start_sentinel_cluster(folder: Path) -> SentinelCluster:
    """Starts the primary, the replica and three sentinels; returns once the sentinels know them all."""
    cluster = SentinelCluster(folder, free_port(), free_port(), [free_port() for _ in range(3)])
    try:
        cluster.processes.append(_data_node(folder / "primary", cluster.primary_port))
        until_sync(lambda: _answers(cluster.primary_port), what="the primary to answer", timeout=15)
        cluster.processes.append(_data_node(folder / "replica", cluster.replica_port,
                                            "--replicaof", "127.0.0.1", str(cluster.primary_port)))
        for n, port in enumerate(cluster.sentinel_ports):
            cluster.processes.append(_sentinel(folder / f"sentinel{n}", port, cluster.primary_port))

        def linked() -> bool:
            replica = redis.Redis(port=cluster.replica_port, socket_timeout=1, decode_responses=True)
            try:
                if replica.info("replication").get("master_link_status") != "up":
                    return False
            except redis.RedisError:
                return False
            finally:
                replica.close()
            for port in cluster.sentinel_ports:
                sentinel = redis.Redis(port=port, socket_timeout=1, decode_responses=True)
                try:
                    if len(sentinel.sentinel_slaves(MASTER)) < 1 or len(sentinel.sentinel_sentinels(MASTER)) < 2:
                        return False
                except redis.RedisError:
                    return False
                finally:
                    sentinel.close()
            return True

        until_sync(linked, what="the replica in sync and the sentinels knowing each other", timeout=30, every=0.1)
    except BaseException:
        cluster.stop()
        raise
    return cluster
