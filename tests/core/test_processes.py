"""Free ports for servers that start a moment later: bindable, and out of the way of outgoing connections."""

from __future__ import annotations

import os
import socket
from pathlib import Path

from core.processes import free_port, latest_model


def test_a_free_port_is_bindable_and_below_the_ephemeral_range() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = {free_port() for _ in range(50)}
    assert len(ports) > 40  # spread out, so parallel tests rarely pick the same one
    for port in ports:
        assert port < low
    port = ports.pop()
    with socket.socket() as server:
        server.bind(("127.0.0.1", port))


def test_the_latest_model_is_the_newest_file(tmp_path: Path) -> None:
    assert latest_model(tmp_path) is None
    old, new = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    old.write_bytes(b"old")
    new.write_bytes(b"new")
    os.utime(old, (1, 1))
    assert latest_model(tmp_path) == new
