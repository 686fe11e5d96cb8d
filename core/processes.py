"""How Kesher finds the programs and files its processes need: console scripts, models, free ports."""

from __future__ import annotations

import os
import random
import shutil
import socket
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, List, Optional, Tuple

__all__ = ["free_port", "latest_model", "model_staging", "models_by_age", "promote", "staging_folder", "venv_bin"]

_FIRST_PORT = 20000
_random = random.SystemRandom()


def _ephemeral_range() -> Tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now, for a server started a little later.

    It is picked below the kernel's ephemeral range: a port from that range (what binding to
    port 0 gives) may meanwhile become the local end of any outgoing connection on the machine.
    """
    low, _ = _ephemeral_range()
    candidates = range(_FIRST_PORT, low) if low - _FIRST_PORT > 1000 else range(_FIRST_PORT, 65535)
    for _ in range(200):
        port = _random.choice(candidates)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free TCP port found on 127.0.0.1")


def venv_bin(name: str) -> str:
    """Path of a console script installed beside the running Python (``rasa``, ``ruff``...)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def models_by_age(model_dir: Path) -> List[Path]:
    """The trained models in a folder, oldest first (one another training prunes meanwhile is left out)."""
    dated = []
    for model in model_dir.glob("*.tar.gz"):
        try:
            dated.append((model.stat().st_mtime, model))
        except FileNotFoundError:
            continue
    return [model for _, model in sorted(dated)]


def latest_model(model_dir: Path) -> Optional[Path]:
    """The newest trained model in a folder, if any."""
    models = models_by_age(model_dir)
    return models[-1] if models else None


@contextmanager
def staging_folder(model_dir: Path) -> Iterator[Path]:
    """A private folder inside ``model_dir`` for ``rasa train --out``, removed with what is left in it at the end.

    Rasa writes its archive in place, for seconds: a reader of :func:`latest_model` (a part starting, a
    test, another training's conversation tests) could open it half written. A model trained here reaches
    ``model_dir`` only through :func:`promote`, whole (one rename on the same file system).
    """
    model_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".training-", dir=model_dir))
    try:
        yield staging
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def promote(staged: Path, model_dir: Path) -> Path:
    """Moves a model trained in a :func:`staging_folder` into ``model_dir``; returns where it is now."""
    final = model_dir / staged.name
    os.replace(staged, final)
    return final


@contextmanager
def model_staging(model_dir: Path) -> Iterator[Path]:
    """A :func:`staging_folder` whose model moves into ``model_dir`` when the block ends without an exception."""
    with staging_folder(model_dir) as staging:
        yield staging
        for built in models_by_age(staging):
            promote(built, model_dir)
