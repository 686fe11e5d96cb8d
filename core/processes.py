"""How Kesher finds the programs and files its processes need: console scripts, models, free ports."""

from __future__ import annotations

import socket
import sys
from pathlib import Path
from typing import Optional

__all__ = ["free_port", "latest_model", "venv_bin"]


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def venv_bin(name: str) -> str:
    """Path of a console script installed beside the running Python (``rasa``, ``ruff``...)."""
    candidate = Path(sys.executable).parent / name
    return str(candidate) if candidate.exists() else name


def latest_model(model_dir: Path) -> Optional[Path]:
    """The newest trained model in a folder, if any."""
    models = sorted(model_dir.glob("*.tar.gz"), key=lambda p: p.stat().st_mtime)
    return models[-1] if models else None
