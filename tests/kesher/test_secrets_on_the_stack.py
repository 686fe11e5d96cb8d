"""On a running stack: no secret in any process's arguments or Rasa's log, Rasa's API only with a signed JWT,
the action server only with the shared token (which Rasa sends)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Iterator

import pytest
import requests

from core.processes import free_port, latest_model
from core.rasa_api import api_headers
from core.settings import Settings
from handoff.identity import conversation_id
from handoff.rasa_client import RasaClient
from kesher.cli import train_model
from kesher.supervisor import Supervisor
from writers.ship import model_id, wait_until_live

pytestmark = pytest.mark.stack

API_SECRET = "stack-rasa-api-secret-5f1e9c2a-0123456789"
ACTIONS_TOKEN = "stack-actions-token-8d03b7e4-0123456789"


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Supervisor]:
    settings = Settings.from_env().replace(var_dir=tmp_path_factory.mktemp("secrets-var"), rasa_api_token=API_SECRET,
                        actions_token=ACTIONS_TOKEN, model_pull_seconds=2).with_ports(
        redis=free_port(), rasa=free_port(), actions=free_port(), models=free_port())
    model = latest_model(settings.model_dir) or train_model(settings)
    supervisor = Supervisor(settings, model=model, parts=("redis", "models", "actions", "rasa"))
    supervisor.start()
    yield supervisor
    supervisor.stop()


def _cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")


def test_no_secret_is_in_any_process_arguments(running: Supervisor) -> None:
    rasa = running.part("rasa").process
    assert rasa is not None and rasa.poll() is None
    assert "kesher.rasa_server" in _cmdline(rasa.pid)
    for part in running.parts:
        assert part.process is not None
        cmdline = _cmdline(part.process.pid)
        assert API_SECRET not in cmdline and ACTIONS_TOKEN not in cmdline, (part.name, cmdline)
        assert "--auth-token" not in cmdline


def test_rasas_api_opens_only_to_a_signed_jwt(running: Supervisor) -> None:
    status = f"{running.settings.rasa_url}/status"
    assert requests.get(status, params={"token": API_SECRET}, timeout=30).status_code == 401
    forged = api_headers("not-the-secret-but-just-as-long-0123456789")
    assert requests.get(status, headers=forged, timeout=30).status_code == 401
    assert requests.get(status, timeout=30).status_code == 401
    signed = requests.get(status, headers=api_headers(API_SECRET), timeout=30)
    assert signed.status_code == 200 and signed.json()["model_id"]


def test_kesher_clients_reach_rasa_and_rasa_reaches_the_actions(running: Supervisor) -> None:
    settings = running.settings
    # A custom action answers through Rasa: Rasa sent the action server its token.
    reply = requests.post(f"{settings.rasa_url}/webhooks/kesher_rest/webhook",
                          headers={"Authorization": f"Bearer {settings.rest_token}"},
                          json={"sender": "secrets-1", "message": "where is my order?"}, timeout=120)
    assert reply.status_code == 200
    assert any("order number" in (m.get("text") or "") for m in reply.json()), reply.json()

    async def read() -> int:
        client = RasaClient(settings.rasa_url, settings.rasa_api_token)
        try:
            return len((await client.tracker(conversation_id("kesher_rest", "secrets-1")))["events"])
        finally:
            await client.close()

    assert asyncio.run(read()) > 0
    model = running.model if running.model.is_file() else latest_model(running.model)
    assert model is not None
    assert wait_until_live(settings, model_id(model), timeout=60) is not None

    # Straight to the action server without the token: refused, with the reason.
    refused = requests.post(settings.action_server_url, json={"next_action": "action_ask_order_id"}, timeout=30)
    assert refused.status_code == 401 and "KESHER_ACTIONS_TOKEN" in refused.json()["error"]
    # Nothing secret was logged by Rasa (no token in any URL it logged).
    log = (settings.var_dir / "logs" / "rasa.log").read_text(encoding="utf-8", errors="replace")
    assert API_SECRET not in log and ACTIONS_TOKEN not in log and settings.rest_token not in log
