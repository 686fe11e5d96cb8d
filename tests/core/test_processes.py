"""Free ports for servers that start a moment later; the newest model, never one half written."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

from core.processes import free_port, latest_model, model_staging


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


def test_a_model_being_trained_is_not_the_latest_until_it_is_whole(tmp_path: Path) -> None:
    served = tmp_path / "20261201-000000-served.tar.gz"
    served.write_bytes(b"served")
    with model_staging(tmp_path) as staging:
        (staging / "20261201-000001-new.tar.gz").write_bytes(b"half wri")  # Rasa still writing
        assert latest_model(tmp_path) == served  # a part starting now gets the whole one
        (staging / "20261201-000001-new.tar.gz").write_bytes(b"half written, now whole")
    new = latest_model(tmp_path)
    assert new == tmp_path / "20261201-000001-new.tar.gz" and new.read_bytes() == b"half written, now whole"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".training-")] == []


def test_a_failed_training_leaves_nothing_behind(tmp_path: Path) -> None:
    with pytest.raises(SystemExit), model_staging(tmp_path / "models") as staging:
        (staging / "broken.tar.gz").write_bytes(b"partial")
        raise SystemExit("rasa train failed")
    assert list((tmp_path / "models").iterdir()) == []
