"""`python -m kesher up` (what `make up` runs): starts everything, prints URLs, stops on Ctrl-C."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from core.processes import free_port
from core.settings import PROJECT_ROOT, Settings

pytestmark = pytest.mark.stack


def _listening(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_up_prints_where_to_go_and_ctrl_c_stops_everything(tmp_path: Path):
    settings = Settings(var_dir=tmp_path).with_ports(redis=free_port(), rasa=free_port(), actions=free_port(),
                                                     handoff=free_port(), smtp=free_port(), models=free_port())
    ports = {"REDIS_PORT": settings.redis_port, "RASA_PORT": settings.rasa_port, "ACTIONS_PORT": settings.actions_port,
             "HANDOFF_PORT": settings.handoff_port, "SMTP_PORT": settings.smtp_port,
             "MODEL_SERVER_PORT": settings.model_server_port}
    proc = subprocess.Popen(
        [sys.executable, "-m", "kesher", "up"], cwd=PROJECT_ROOT, env=settings.child_env(),
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    output = []
    deadline = time.monotonic() + 600
    try:
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            output.append(line)
            if "Press Ctrl-C to stop" in line:
                break
        text = "".join(output)
        assert "Kesher is running" in text, text[-3000:]
        assert f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/kesher_rest/webhook" in text
        assert "Seeded 240 demo orders" in text
        reply = requests.post(f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/kesher_rest/webhook",
                              json={"sender": "cli-test", "message": "hello"}, timeout=60,
                              headers={"Authorization": f"Bearer {settings.rest_token}"})
        assert reply.status_code == 200 and reply.json()
        demo = f"http://127.0.0.1:{ports['RASA_PORT']}/webhooks/web/demo"
        assert demo in text
        page = requests.get(demo, timeout=30)
        assert page.status_code == 200 and '<script src="widget.js"' in page.text

        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        rest, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0, rest
        assert "Stopped." in rest
        assert not any(_listening(port) for port in ports.values())
    finally:
        if proc.poll() is None:
            proc.kill()
